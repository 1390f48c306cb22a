/**
 * Names of the session advisory locks (`pg_try_advisory_lock(hashtext(name))`) that keep
 * maintenance work of different instances and commands apart, in one place so that two of them
 * can take each other's.
 */

/** One retention pass at a time per database, whichever instance (see TokenRetention). */
export const RETENTION_PASS_LOCK = 'waitpoints:token-retention';

/** One projections rebuild at a time per database. It also holds RETENTION_PASS_LOCK (see rebuildProjections). */
export const PROJECTIONS_REBUILD_LOCK = 'waitpoints:projections:rebuild';
