import { MigrationInterface, QueryRunner } from 'typeorm';

const INDEX = 'waitpoint_tokens_env_completed_at';

/**
 * Lets the dashboard count tokens finished in the last hour without scanning the table.
 * Partial: waiting tokens (completed_at null) are never in it, so creates pay nothing.
 * Built CONCURRENTLY (outside a transaction) so upgrading a large deployment never blocks writes.
 */
export class CompletedAtIndex1764720000000 implements MigrationInterface {
  name = 'CompletedAtIndex1764720000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // A concurrent build that was interrupted leaves an invalid index behind: build it again.
    const leftover: { valid: boolean }[] = await q.query(
      `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`,
      [INDEX],
    );
    if (leftover.length > 0 && !leftover[0].valid) await q.query(`DROP INDEX CONCURRENTLY ${INDEX}`);
    await q.query(
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${INDEX} ON waitpoint_tokens (environment, completed_at)
       WHERE completed_at IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${INDEX}`);
  }
}
