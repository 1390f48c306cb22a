import type { PoolClient } from 'pg';
import { Database, onClient, Sql } from '../../database/database';
import { EVENT_COLUMNS, EventRow, toEnvelope } from '../../event-store/event-store';
import { projectEvents } from '../token-projection';
import { ident } from './projection-tables';

export const REPLAY_BATCH_SIZE = 1_000;

/**
 * A read-only REPEATABLE READ transaction on its own connection: one consistent view of the
 * event store and the live tables. It holds no transaction id, so the outbox relay (which waits
 * for running transactions) is never held up by it, however long it stays open.
 */
export class Snapshot {
  private constructor(
    private readonly client: PoolClient,
    /** `pg_current_snapshot()` of the transaction, as text (xmin:xmax:xip). */
    readonly id: string,
    /** The server's clock when the snapshot was taken: every commit it sees happened before. */
    readonly takenAt: Date,
  ) {}

  static async take(db: Database): Promise<Snapshot> {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { rows } = await client.query<{ snapshot: string; taken_at: Date }>(
        'SELECT pg_current_snapshot()::text AS snapshot, clock_timestamp() AS taken_at',
      );
      return new Snapshot(client, rows[0].snapshot, new Date(rows[0].taken_at));
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  }

  query<T>(sql: string, parameters?: unknown[]): Promise<T[]> {
    return onClient(this.client).query<T>(sql, parameters);
  }

  async release(): Promise<void> {
    await this.client.query('ROLLBACK').catch(() => undefined);
    this.client.release();
  }
}

/**
 * Feeds events into the token projection (the very SQL the token-service's appends compose)
 * writing into the tables of another schema: `search_path` points the projection's unqualified
 * table names there (and then to the live schema, for its functions), one short transaction per
 * batch.
 */
export class EventReplay {
  replayed = 0;

  private get searchPath(): string {
    return `${ident(this.targetSchema)}, ${ident(this.liveSchema)}`;
  }

  constructor(
    private readonly db: Database,
    private readonly liveSchema: string,
    private readonly targetSchema: string,
    private readonly batchSize = REPLAY_BATCH_SIZE,
  ) {}

  /**
   * Every event visible in `snapshot` and not in `after` (every event when `after` is absent),
   * in global order: the commit order of dependent events (one token's stream; an expired
   * idempotency key taken over by a later token).
   */
  async replay(snapshot: Snapshot, after?: string): Promise<number> {
    const filter =
      after === undefined
        ? ''
        : `AND transaction_id >= pg_snapshot_xmin($3::pg_snapshot)
         AND NOT pg_visible_in_snapshot(transaction_id, $3::pg_snapshot)`;
    // Ordered by the bigint column: EVENT_COLUMNS names a text copy of it global_position too.
    let position = '0';
    let count = 0;
    for (;;) {
      const rows = await snapshot.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM es_events WHERE global_position > $1::bigint ${filter}
          ORDER BY es_events.global_position LIMIT $2`,
        after === undefined ? [position, this.batchSize] : [position, this.batchSize, after],
      );
      if (rows.length === 0) return count;
      await this.db.transaction(async (sql) => {
        await sql.query(`SELECT set_config('search_path', $1, true)`, [this.searchPath]);
        await projectEvents(sql, rows.map(toEnvelope));
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
  async replayWithin(sql: Sql, after: string): Promise<number> {
    const rows = await sql.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM es_events
        WHERE transaction_id >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(transaction_id, $1::pg_snapshot)
        ORDER BY es_events.global_position`,
      [after],
    );
    if (rows.length === 0) return 0;
    const [{ path }] = await sql.query<{ path: string }>(`SELECT current_setting('search_path') AS path`);
    await sql.query(`SELECT set_config('search_path', $1, true)`, [this.searchPath]);
    await projectEvents(sql, rows.map(toEnvelope));
    await sql.query(`SELECT set_config('search_path', $1, true)`, [path]);
    this.replayed += rows.length;
    return rows.length;
  }
}
