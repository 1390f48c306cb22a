import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One row per pending timeout. Rows are deleted when fired or when the token ends, never
 * updated into a history, so the table holds only what is pending.
 *
 * Two partial indexes keep the claim cheap however many timers are pending or leased:
 * unleased timers by deadline (what the claim scans, oldest first), leased ones by lease end
 * (where a dead instance's timers are found).
 */
export class SchedulerTimers1764547200000 implements MigrationInterface {
  name = 'SchedulerTimers1764547200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE scheduler_timers (
        token_id    text        PRIMARY KEY,
        environment text        NOT NULL,
        due_at      timestamptz NOT NULL,
        lease_owner text,
        lease_until timestamptz,
        claims      integer     NOT NULL DEFAULT 0,
        CONSTRAINT scheduler_timers_lease_complete CHECK ((lease_owner IS NULL) = (lease_until IS NULL))
      ) WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)`);
    await q.query(`CREATE INDEX scheduler_timers_unleased_by_due ON scheduler_timers (due_at) WHERE lease_owner IS NULL`);
    await q.query(`CREATE INDEX scheduler_timers_leased_by_lease_end ON scheduler_timers (lease_until) WHERE lease_owner IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE scheduler_timers`);
  }
}
