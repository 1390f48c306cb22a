import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { EVENT_COLUMNS, toEnvelope } from '../../event-store/event-store';
import { TokenProjection } from '../token-projection';
import { ident } from './projection-tables';

export const REPLAY_BATCH_SIZE = 1_000;

/**
 * A read-only REPEATABLE READ transaction on its own connection: one consistent view of the
 * event store and the live tables. It holds no transaction id, so the outbox relay (which waits
 * for running transactions) is never held up by it, however long it stays open.
 */
export class Snapshot {
  private constructor(
    private readonly runner: QueryRunner,
    /** `pg_current_snapshot()` of the transaction, as text (xmin:xmax:xip). */
    readonly id: string,
    /** The server's clock when the snapshot was taken: every commit it sees happened before. */
    readonly takenAt: Date,
  ) {}

  static async take(db: DataSource): Promise<Snapshot> {
    const runner = db.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const [{ snapshot, taken_at }]: { snapshot: string; taken_at: Date }[] = await runner.query(
        'SELECT pg_current_snapshot()::text AS snapshot, clock_timestamp() AS taken_at',
      );
      return new Snapshot(runner, snapshot, new Date(taken_at));
    } catch (error) {
      await runner.release();
      throw error;
    }
  }

  query<T>(sql: string, parameters?: unknown[]): Promise<T[]> {
    return this.runner.query(sql, parameters);
  }

  async release(): Promise<void> {
    await this.runner.query('ROLLBACK').catch(() => undefined);
    await this.runner.release();
  }
}

/**
 * Feeds events into TokenProjection (the very code the token-service projects with) writing
 * into the tables of another schema: `search_path` points the projection's unqualified table
 * names there, one short transaction per batch.
 */
export class EventReplay {
  private readonly projection = new TokenProjection();
  replayed = 0;

  constructor(
    private readonly db: DataSource,
    private readonly targetSchema: string,
    private readonly batchSize = REPLAY_BATCH_SIZE,
  ) {}

  /**
   * Every event visible in `snapshot` and not in `after` (every event when `after` is absent),
   * in global order: the commit order of dependent events (one token's stream; an expired
   * idempotency key taken over by a later token).
   */
  async replay(snapshot: Snapshot, after?: string): Promise<number> {
    const filter = after === undefined ? '' : `AND transaction_id >= pg_snapshot_xmin($3::pg_snapshot)
         AND NOT pg_visible_in_snapshot(transaction_id, $3::pg_snapshot)`;
    // Ordered by the bigint column: EVENT_COLUMNS names a text copy of it global_position too.
    let position = '0';
    let count = 0;
    for (;;) {
      const rows = await snapshot.query<Parameters<typeof toEnvelope>[0]>(
        `SELECT ${EVENT_COLUMNS} FROM es_events WHERE global_position > $1::bigint ${filter}
          ORDER BY es_events.global_position LIMIT $2`,
        after === undefined ? [position, this.batchSize] : [position, this.batchSize, after],
      );
      if (rows.length === 0) return count;
      await this.db.transaction(async (m) => {
        await m.query(`SELECT set_config('search_path', $1, true)`, [ident(this.targetSchema)]);
        await this.projection.applyAll(m, rows.map(toEnvelope));
      });
      position = rows[rows.length - 1].global_position;
      count += rows.length;
      this.replayed += rows.length;
    }
  }

  /**
   * Within the caller's transaction: every event committed now and not visible in the snapshot
   * `after` (the rebuild's last step, under its table locks).
   */
  async replayWithin(m: EntityManager, after: string): Promise<number> {
    const rows: Parameters<typeof toEnvelope>[0][] = await m.query(
      `SELECT ${EVENT_COLUMNS} FROM es_events
        WHERE transaction_id >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(transaction_id, $1::pg_snapshot)
        ORDER BY es_events.global_position`,
      [after],
    );
    if (rows.length === 0) return 0;
    const [{ path }]: { path: string }[] = await m.query(`SELECT current_setting('search_path') AS path`);
    await m.query(`SELECT set_config('search_path', $1, true)`, [ident(this.targetSchema)]);
    await this.projection.applyAll(m, rows.map(toEnvelope));
    await m.query(`SELECT set_config('search_path', $1, true)`, [path]);
    this.replayed += rows.length;
    return rows.length;
  }
}
