import type { PoolClient } from 'pg';
import { Database, onClient, Sql } from '../../database/database';
import { projectStoredEvents, STORED_EVENT_KEYS, StoredEventKeys } from '../token-projection';
import { CreatedRange, eventsInRange } from './created-range';
import { ident } from './projection-tables';

/** Events per replay chunk: one read of their keys, one transaction projecting them. */
export const REPLAY_CHUNK_EVENTS = 20_000;

/** Most often a long step prints its progress. */
export const PROGRESS_EVERY_MS = 5_000;

/**
 * A read-only REPEATABLE READ transaction on its own connection: one consistent view of the
 * event store and the live tables. It holds no transaction id, so the outbox relay (which waits
 * for running transactions) is never held up by it, however long it stays open.
 *
 * Between its own statements it waits while another connection projects a chunk or reads a
 * page: seconds, but more than the pool's idle_in_transaction_session_timeout (30 s, set for
 * the service's sessions) on a machine under load. That timeout is raised for this transaction
 * alone (SET LOCAL) to a bound that still ends one whose process hung.
 */
export class Snapshot {
  static readonly IDLE_TIMEOUT = '10min';

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
      await client.query(`SET LOCAL idle_in_transaction_session_timeout = '${Snapshot.IDLE_TIMEOUT}'`);
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

/** Prints "what: n done, r/s, ETA" at most every PROGRESS_EVERY_MS. */
export class Progress {
  private readonly started = Date.now();
  private lastPrinted = Date.now();
  private lastRows = -1;

  constructor(
    private readonly what: string,
    private readonly log: (message: string) => void,
  ) {}

  /** `rows` counted so far; `done` of `total` units of work for the ETA (total 0: unknown, no ETA). */
  report(rows: number, unit: string, done = 0, total = 0, force = false): void {
    const now = Date.now();
    // Forced (the last line): unless the last periodic line already said the same.
    if (force ? rows === this.lastRows : now - this.lastPrinted < PROGRESS_EVERY_MS) return;
    this.lastPrinted = now;
    this.lastRows = rows;
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const fraction = total > 0 ? Math.min(1, done / total) : undefined;
    const eta =
      fraction === undefined
        ? ''
        : `, ${Math.round(fraction * 100)} %` +
          (fraction > 0 && fraction < 1 ? `, ETA ${Math.round((seconds / fraction) * (1 - fraction))} s` : '');
    this.log(
      `${this.what}: ${rows.toLocaleString('en-US')} ${unit} in ${Math.round(seconds)} s (${Math.round(rows / seconds).toLocaleString('en-US')}/s${eta})`,
    );
  }
}

/**
 * Feeds stored events into the token projection (the very SQL the token-service's appends
 * compose) writing into the tables of another schema: `search_path` points the projection's
 * unqualified table names there (and then to the live schema, for es_events and its functions).
 *
 * Streamed by global position: a snapshot reads the keys of the next chunk of events (never
 * their data), and one short transaction on another connection projects them, wave by wave,
 * set-based (see projectStoredEvents). Nothing stays idle in a transaction but the snapshot.
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
    private readonly options: { range?: CreatedRange; chunkEvents?: number; log?: (message: string) => void } = {},
  ) {}

  private get range(): string {
    return eventsInRange(this.options.range ?? {}, 'e');
  }

  /**
   * Every event (of a token in the range) visible in `snapshot` and not in `after` (every
   * such event when `after` is absent), in global order: the commit order of dependent events
   * (one token's stream; an expired idempotency key taken over by a later token).
   */
  async replay(snapshot: Snapshot, after?: string): Promise<number> {
    const notIn =
      after === undefined
        ? ''
        : `AND e.transaction_id >= pg_snapshot_xmin($3::pg_snapshot)
           AND NOT pg_visible_in_snapshot(e.transaction_id, $3::pg_snapshot)`;
    const chunk = this.options.chunkEvents ?? REPLAY_CHUNK_EVENTS;
    const [{ first, last }] = await snapshot.query<{ first: string | null; last: string | null }>(
      `SELECT min(global_position)::text AS first, max(global_position)::text AS last FROM es_events`,
    );
    const progress = new Progress(`replay into ${this.targetSchema}`, this.options.log ?? (() => undefined));
    const span = Number(last ?? 0) - Number(first ?? 0) + 1;
    let position = '0';
    let count = 0;
    for (;;) {
      // Ordered by the bigint column, walking its primary key: no sort, however long the history.
      const events = await snapshot.query<StoredEventKeys>(
        `SELECT ${STORED_EVENT_KEYS} FROM es_events e
          WHERE e.global_position > $1::bigint AND ${this.range} ${notIn}
          ORDER BY e.global_position LIMIT $2`,
        after === undefined ? [position, chunk] : [position, chunk, after],
      );
      if (events.length === 0) break;
      await this.db.transaction((sql) => this.project(sql, events));
      position = events[events.length - 1].globalPosition;
      count += events.length;
      this.replayed += events.length;
      progress.report(count, 'events', Number(position) - Number(first ?? 0) + 1, span);
    }
    if (count > 0) progress.report(count, 'events', span, span, true);
    return count;
  }

  /**
   * Within the caller's transaction: every event (of a token in the range) committed now and
   * not visible in the snapshot `after` (the rebuild's last step, under its table locks). Returns
   * the events replayed.
   */
  async replayWithin(sql: Sql, after: string): Promise<StoredEventKeys[]> {
    const events = await sql.query<StoredEventKeys>(
      `SELECT ${STORED_EVENT_KEYS} FROM es_events e
        WHERE e.transaction_id >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(e.transaction_id, $1::pg_snapshot)
          AND ${this.range}
        ORDER BY e.global_position`,
      [after],
    );
    if (events.length === 0) return events;
    const [{ path }] = await sql.query<{ path: string }>(`SELECT current_setting('search_path') AS path`);
    await this.project(sql, events);
    await sql.query(`SELECT set_config('search_path', $1, true)`, [path]);
    this.replayed += events.length;
    return events;
  }

  private async project(sql: Sql, events: StoredEventKeys[]): Promise<void> {
    await sql.query(`SELECT set_config('search_path', $1, true)`, [this.searchPath]);
    await projectStoredEvents(sql, events);
  }
}
