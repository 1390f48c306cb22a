import { randomBytes } from 'node:crypto';
import type { Database } from '../../database/database';
import { requestKeysKeptSince } from '../request-key-retention';
import { EventReplay, Snapshot } from './event-replay';
import {
  LIVE_ONLY_COLUMNS,
  PROJECTION_TABLES,
  ProjectionTable,
  cloneTables,
  ident,
  liveSchemaOf,
  primaryKeyOf,
  qualified,
} from './projection-tables';

const PAGE = 2_000;
const EXAMPLES_PER_TABLE = 10;

export interface TableComparison {
  table: ProjectionTable;
  liveRows: number;
  replayedRows: number;
  /** Rows the replay produced that the live table lacks. */
  missing: number;
  /** Rows of the live table that the replay does not produce. */
  unexpected: number;
  /** Rows present on both sides with different values. */
  different: number;
  examples: string[];
}

export interface VerifyReport {
  events: number;
  tables: TableComparison[];
  consistent: boolean;
  durationMs: number;
}

/**
 * Replays the event store as one snapshot sees it into scratch tables and compares them, row by
 * row and column by column, with the live tables as the same snapshot sees them (the projection
 * is written in the append transaction, so the two agree unless something is wrong). Read-only
 * for the live tables; safe while the service runs. The scratch schema is dropped afterwards.
 */
export async function verifyProjections(
  db: Database,
  options: {
    log?: (message: string) => void;
    /** REQUEST_KEY_RETENTION: older request keys may be pruned from the live table, so they are not compared. */
    requestKeyRetentionMs?: number;
  } = {},
): Promise<VerifyReport> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const scratch = `waitpoints_projection_verify_${randomBytes(4).toString('hex')}`;
  const liveSchema = await liveSchemaOf(db);
  const snapshot = await Snapshot.take(db);
  try {
    await db.query(`CREATE SCHEMA ${ident(scratch)}`);
    await cloneTables(db, liveSchema, scratch);
    const replay = new EventReplay(db, liveSchema, scratch);
    const events = await replay.replay(snapshot);
    log(`replayed ${events} events into ${scratch}`);
    const replayed = await db.pool.connect();
    await replayed.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const tables: TableComparison[] = [];
    try {
      // Every request key newer than this is in a consistent live table; older ones may have been pruned.
      const keptSince =
        options.requestKeyRetentionMs === undefined ? undefined : requestKeysKeptSince(snapshot.takenAt, options.requestKeyRetentionMs);
      for (const table of PROJECTION_TABLES) {
        tables.push(
          await compareTable(
            table,
            (sql) => snapshot.query(sql),
            async (sql) => (await replayed.query(sql)).rows,
            liveSchema,
            scratch,
            await primaryKeyOf((sql, parameters) => snapshot.query(sql, parameters), liveSchema, table),
            table === 'waitpoint_request_keys' && keptSince ? `created_at >= '${keptSince.toISOString()}'::timestamptz` : undefined,
          ),
        );
      }
    } finally {
      await replayed.query('ROLLBACK').catch(() => undefined);
      replayed.release();
    }
    const consistent = tables.every((t) => t.missing + t.unexpected + t.different === 0);
    return { events, tables, consistent, durationMs: Date.now() - started };
  } finally {
    await snapshot.release();
    await db.query(`DROP SCHEMA IF EXISTS ${ident(scratch)} CASCADE`).catch(() => undefined);
  }
}

type Query = (sql: string) => Promise<{ key: string[]; row: Record<string, unknown> }[]>;

/** Walks both tables in the same key order (byte order of the keys as text) and compares. */
async function compareTable(
  table: ProjectionTable,
  live: Query,
  replayed: Query,
  liveSchema: string,
  scratch: string,
  primaryKey: string[],
  /** Rows to compare (both sides); all when undefined. */
  where?: string,
): Promise<TableComparison> {
  const order = primaryKey.map((column) => `(${ident(column)}::text) COLLATE "C"`).join(', ');
  const keyArray = `ARRAY[${primaryKey.map((column) => `${ident(column)}::text`).join(', ')}]`;
  const cursor = `verify_${table}`;
  // Live-only columns (moved by heartbeats, not by events) cannot agree with a replay.
  const comparedRow = ['to_jsonb(t)', ...LIVE_ONLY_COLUMNS[table].map((column) => `'${column}'`)].join(' - ');
  const declare = (schema: string) =>
    `DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${keyArray} AS key, ${comparedRow} AS row FROM ${qualified(schema, table)} t ` +
    `${where ? `WHERE ${where} ` : ''}ORDER BY ${order}`;
  await live(declare(liveSchema));
  await replayed(declare(scratch));
  const liveRows = new RowStream(() => live(`FETCH ${PAGE} FROM ${cursor}`));
  const replayedRows = new RowStream(() => replayed(`FETCH ${PAGE} FROM ${cursor}`));

  const result: TableComparison = { table, liveRows: 0, replayedRows: 0, missing: 0, unexpected: 0, different: 0, examples: [] };
  const example = (text: string) => result.examples.length < EXAMPLES_PER_TABLE && result.examples.push(text);
  const describeKey = (key: string[]) => primaryKey.map((column, i) => `${column}=${key[i]}`).join(' ');
  let a = await liveRows.next();
  let b = await replayedRows.next();
  while (a || b) {
    const order = !a ? 1 : !b ? -1 : compareKeys(a.key, b.key);
    if (order < 0) {
      result.unexpected++;
      example(`${table} ${describeKey(a!.key)}: in the live table, but the events do not produce it`);
      a = await liveRows.next();
    } else if (order > 0) {
      result.missing++;
      example(`${table} ${describeKey(b!.key)}: produced by the events, missing from the live table`);
      b = await replayedRows.next();
    } else {
      const columns = Object.keys({ ...a!.row, ...b!.row }).filter(
        (column) => JSON.stringify(a!.row[column]) !== JSON.stringify(b!.row[column]),
      );
      if (columns.length > 0) {
        result.different++;
        example(
          `${table} ${describeKey(a!.key)}: ` +
            columns.map((c) => `${c} is ${JSON.stringify(a!.row[c])}, the events say ${JSON.stringify(b!.row[c])}`).join('; '),
        );
      }
      a = await liveRows.next();
      b = await replayedRows.next();
    }
  }
  result.liveRows = liveRows.count;
  result.replayedRows = replayedRows.count;
  await live(`CLOSE ${cursor}`);
  await replayed(`CLOSE ${cursor}`);
  return result;
}

/** Same order as `ORDER BY (column::text) COLLATE "C"`: UTF-8 bytes, column by column. */
function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < a.length; i++) {
    const order = Buffer.compare(Buffer.from(a[i] ?? '', 'utf8'), Buffer.from(b[i] ?? '', 'utf8'));
    if (order !== 0) return order;
  }
  return 0;
}

class RowStream {
  private buffer: { key: string[]; row: Record<string, unknown> }[] = [];
  private done = false;
  count = 0;

  constructor(private readonly fetchPage: () => Promise<{ key: string[]; row: Record<string, unknown> }[]>) {}

  async next() {
    if (this.buffer.length === 0 && !this.done) {
      this.buffer = await this.fetchPage();
      if (this.buffer.length === 0) this.done = true;
    }
    const row = this.buffer.shift();
    if (row) this.count++;
    return row;
  }
}

/** The report as lines a person reads in a terminal. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines = [`Replayed ${report.events} events in ${report.durationMs} ms.`];
  for (const t of report.tables) {
    const problems = t.missing + t.unexpected + t.different;
    lines.push(
      `${problems === 0 ? 'OK  ' : 'DIFF'} ${t.table}: ${t.liveRows} live rows, ${t.replayedRows} from the events` +
        (problems === 0 ? '' : `; ${t.missing} missing, ${t.unexpected} unexpected, ${t.different} different`),
    );
    for (const text of t.examples) lines.push(`       ${text}`);
    const hidden = problems - t.examples.length;
    if (hidden > 0) lines.push(`       … and ${hidden} more`);
  }
  lines.push(
    report.consistent
      ? 'The read tables match the event store.'
      : 'The read tables do NOT match the event store: run npm run projections:rebuild.',
  );
  return lines.join('\n');
}
