import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Long-running tokens: the REJECTED status, and the heartbeat columns of waitpoint_tokens.
 *
 * - `heartbeat_timeout_ms` is projected from TokenCreated.
 * - `heartbeat_deadline` starts as created_at + heartbeat_timeout_ms and is then moved by
 *   heartbeats, which are not events: it is the one column of the read tables that the event
 *   store alone cannot rebuild (projections:rebuild carries it over, projections:verify leaves
 *   it out). Not indexed, so a heartbeat's UPDATE can stay on its page (HOT); the free space
 *   kept on each page (fillfactor) is what lets it.
 */
export class LongRunningTokens1765584000000 implements MigrationInterface {
  name = 'LongRunningTokens1765584000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waitpoint_tokens DROP CONSTRAINT IF EXISTS waitpoint_tokens_status_check`);
    await q.query(`
      ALTER TABLE waitpoint_tokens ADD CONSTRAINT waitpoint_tokens_status_check
        CHECK (status IN ('WAITING', 'COMPLETED', 'TIMED_OUT', 'CANCELLED', 'REJECTED'))`);
    await q.query(`
      ALTER TABLE waitpoint_tokens
        ADD COLUMN heartbeat_timeout_ms bigint CHECK (heartbeat_timeout_ms > 0),
        ADD COLUMN heartbeat_deadline   timestamptz`);
    await q.query(`ALTER TABLE waitpoint_tokens SET (fillfactor = 90)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waitpoint_tokens RESET (fillfactor)`);
    await q.query(`ALTER TABLE waitpoint_tokens DROP COLUMN heartbeat_deadline, DROP COLUMN heartbeat_timeout_ms`);
    await q.query(`ALTER TABLE waitpoint_tokens DROP CONSTRAINT waitpoint_tokens_status_check`);
    await q.query(`
      ALTER TABLE waitpoint_tokens ADD CONSTRAINT waitpoint_tokens_status_check
        CHECK (status IN ('WAITING', 'COMPLETED', 'TIMED_OUT', 'CANCELLED'))`);
  }
}
