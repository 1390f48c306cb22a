import { SchedulerTimers1764547200000 } from './1764547200000-SchedulerTimers';

/** Every migration of the scheduler's tables, oldest first (tracked in `scheduler_migrations`). */
export const schedulerMigrations = [SchedulerTimers1764547200000];
