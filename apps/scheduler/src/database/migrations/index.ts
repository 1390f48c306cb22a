import { SchedulerTimers1764547200000 } from './1764547200000-SchedulerTimers';
import { MovingDeadlines1765584000000 } from './1765584000000-MovingDeadlines';

/** Every migration of the scheduler's tables, oldest first (tracked in `scheduler_migrations`). */
export const schedulerMigrations = [SchedulerTimers1764547200000, MovingDeadlines1765584000000];
