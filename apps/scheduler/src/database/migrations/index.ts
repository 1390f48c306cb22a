import { SchedulerTimers1764547200000 } from './1764547200000-SchedulerTimers';
import { MovingDeadlines1765584000000 } from './1765584000000-MovingDeadlines';
import { IngestPositions1766016000000 } from './1766016000000-IngestPositions';

/** Every migration of the scheduler's tables, oldest first (tracked in `scheduler_migrations`). */
export const schedulerMigrations = [SchedulerTimers1764547200000, MovingDeadlines1765584000000, IngestPositions1766016000000];
