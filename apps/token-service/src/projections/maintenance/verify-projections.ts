import { randomBytes } from 'node:crypto';
import type { Database } from '../../database/database';
import { requestKeysKeptSince } from '../request-key-retention';
import { CreatedRange, describeRange, isWholeHistory, rowsInRange } from './created-range';
import { EventReplay, Progress, Snapshot } from './event-replay';
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

/** Rows per comparison page (each side), and events per replay chunk. */
export const VERIFY_PAGE_ROWS = 5_000;
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
  range: CreatedRange;
  tables: TableComparison[];
  consistent: boolean;
  replayMs: number;
  durationMs: number;
}

export interface VerifyOptions {
  log?: (message: string) => void;
  /** REQUEST_KEY_RETENTION: older request keys may be pruned from the live table, so they are not compared. */
  requestKeyRetentionMs?: number;
  /** Only tokens created in this range (and their keys) are replayed and compared. */
  range?: CreatedRange;
  /** Rows per comparison page and events per replay chunk. */
  pageSize?: number;
}

/**
 * Replays the event store as one snapshot sees it into scratch tables and compares them, row by
 * row and column by column, with the live tables as the same snapshot sees them (the projection
 * is written in the append transaction, so the two agree unless something is wrong). Read-only
 * for the live tables; safe while the service runs. The scratch schema is dropped afterwards.
 *
 * Both sides are read in pages walking the primary key (`WHERE key > last ORDER BY key LIMIT n`,
 * the index's own order and collation: no sort, however large the table), so no statement runs
 * long and neither connection waits long for the other.
 */
export async function verifyProjections(db: Database, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const range = options.range ?? {};
  const pageSize = options.pageSize ?? VERIFY_PAGE_ROWS;
  const scratch = `waitpoints_projection_verify_${randomBytes(4).toString('hex')}`;
  const liveSchema = await liveSchemaOf(db);
  const snapshot = await Snapshot.take(db);
  try {
    await db.query(`CREATE SCHEMA ${ident(scratch)}`);
    // Unlogged: the scratch tables are thrown away, so their writes need no WAL.
    await cloneTables(db, liveSchema, scratch, { unlogged: true });
    const replay = new EventReplay(db, liveSchema, scratch, { range, chunkEvents: options.pageSize, log });
    log(`replaying the events of ${describeRange(range)} into ${scratch}`);
    const events = await replay.replay(snapshot);
    const replayMs = Date.now() - started;
    for (const table of PROJECTION_TABLES) await db.query(`ANALYZE ${qualified(scratch, table)}`);

    // Every request key newer than this is in a consistent live table; older ones may have been pruned.
    const keptSince =
      options.requestKeyRetentionMs === undefined ? undefined : requestKeysKeptSince(snapshot.takenAt, options.requestKeyRetentionMs);
    const tables: TableComparison[] = [];
    for (const table of PROJECTION_TABLES) {
      const rowsOf = (schema: string) => {
        const conditions = [rowsInRange(range, table, 't', qualified(schema, 'waitpoint_tokens'))];
        if (table === 'waitpoint_request_keys' && keptSince) conditions.push(`t.created_at >= '${keptSince.toISOString()}'::timestamptz`);
        return conditions.join(' AND ');
      };
      const primaryKey = await primaryKeyOf((sql, parameters) => snapshot.query(sql, parameters), liveSchema, table);
      // PostgreSQL's estimate of the table's rows (from its statistics, no count): the ETA of a whole-table comparison.
      const [{ estimate }] = await snapshot.query<{ estimate: number }>(
        `SELECT greatest(reltuples, 0)::float8 AS estimate FROM pg_class WHERE oid = $1::regclass`,
        [qualified(liveSchema, table)],
      );
      tables.push(
        await compareTable({
          table,
          primaryKey,
          live: { query: (sql, parameters) => snapshot.query(sql, parameters), schema: liveSchema, where: rowsOf(liveSchema) },
          replayed: { query: (sql, parameters) => db.query(sql, parameters), schema: scratch, where: rowsOf(scratch) },
          pageSize,
          expectedRows: isWholeHistory(range) ? estimate : 0,
          log,
          // A key reserved in the range and taken over (after it expired) by a token created
          // after the range: the replay of the range alone cannot know; the live row is right.
          heldOutsideRange:
            table === 'waitpoint_tokens' || isWholeHistory(range)
              ? undefined
              : async (key) =>
                  (
                    await snapshot.query(
                      `SELECT 1 FROM ${qualified(liveSchema, table)} t
                        WHERE (${primaryKeyColumns(primaryKey)}) = (${key.map((_, i) => `$${i + 1}::text`).join(', ')})
                          AND NOT ${rowsInRange(range, table, 't', qualified(liveSchema, 'waitpoint_tokens'))}`,
                      key,
                    )
                  ).length > 0,
        }),
      );
    }
    const consistent = tables.every((t) => t.missing + t.unexpected + t.different === 0);
    return { events, range, tables, consistent, replayMs, durationMs: Date.now() - started };
  } finally {
    await snapshot.release();
    await db.query(`DROP SCHEMA IF EXISTS ${ident(scratch)} CASCADE`).catch(() => undefined);
  }
}

type Query = (sql: string, parameters: unknown[]) => Promise<unknown[]>;
type DigestedRow = { key: string[]; digest: string };

interface Side {
  query: Query;
  schema: string;
  /** Which rows of the table are compared (alias `t`). */
  where: string;
}

const primaryKeyColumns = (primaryKey: string[]) => primaryKey.map((column) => `t.${ident(column)}`).join(', ');

/**
 * Walks both tables in primary key order, a page at a time, and compares the rows of each key
 * range. A page is the live side's next `pageSize` rows; the replayed side is read up to the
 * same last key (and if it has more rows than a page before that key, the page ends at its
 * last key instead, and the live side is read again up to there). Both ranges are bounded by
 * keys PostgreSQL compares, so the client never has to order keys itself.
 *
 * Pages carry each row's digest (md5 of its jsonb text, which is canonical: keys sorted), not
 * the row: PostgreSQL computes it where the row is, and the client compares short strings. The
 * rows themselves are read, by key, only for the examples printed.
 */
async function compareTable(args: {
  table: ProjectionTable;
  primaryKey: string[];
  live: Side;
  replayed: Side;
  pageSize: number;
  /** For the ETA; 0 when unknown. */
  expectedRows: number;
  log: (message: string) => void;
  heldOutsideRange?: (key: string[]) => Promise<boolean>;
}): Promise<TableComparison> {
  const { table, primaryKey, live, replayed, pageSize } = args;
  const keyColumns = primaryKeyColumns(primaryKey);
  const keyArray = `ARRAY[${primaryKey.map((column) => `t.${ident(column)}::text`).join(', ')}]`;
  // Live-only columns (moved by heartbeats, not by events) cannot agree with a replay.
  const comparedRow = ['to_jsonb(t)', ...LIVE_ONLY_COLUMNS[table].map((column) => `'${column}'`)].join(' - ');
  const keyParameters = (from: number) => primaryKey.map((_, i) => `$${from + i}::text`).join(', ');
  const page = async (side: Side, after: string[] | undefined, upTo: string[] | undefined): Promise<DigestedRow[]> => {
    const conditions = [side.where];
    const parameters: unknown[] = [];
    if (after) {
      conditions.push(`(${keyColumns}) > (${keyParameters(parameters.length + 1)})`);
      parameters.push(...after);
    }
    if (upTo) {
      conditions.push(`(${keyColumns}) <= (${keyParameters(parameters.length + 1)})`);
      parameters.push(...upTo);
    }
    parameters.push(pageSize);
    return (await side.query(
      `SELECT ${keyArray} AS key, md5((${comparedRow})::text) AS digest FROM ${qualified(side.schema, table)} t
        WHERE ${conditions.join(' AND ')} ORDER BY ${keyColumns} LIMIT $${parameters.length}`,
      parameters,
    )) as DigestedRow[];
  };
  const rowOf = async (side: Side, key: string[]): Promise<Record<string, unknown>> => {
    const [found] = (await side.query(
      `SELECT ${comparedRow} AS row FROM ${qualified(side.schema, table)} t WHERE (${keyColumns}) = (${keyParameters(1)})`,
      key,
    )) as { row: Record<string, unknown> }[];
    return found?.row ?? {};
  };

  const result: TableComparison = { table, liveRows: 0, replayedRows: 0, missing: 0, unexpected: 0, different: 0, examples: [] };
  const wantsExample = () => result.examples.length < EXAMPLES_PER_TABLE;
  const describeKey = (key: string[]) => primaryKey.map((column, i) => `${column}=${key[i]}`).join(' ');
  const progress = new Progress(`compare ${table}`, args.log);
  const lastKey = (rows: DigestedRow[]) => rows[rows.length - 1].key;
  let after: string[] | undefined;
  for (;;) {
    let liveRows = await page(live, after, undefined);
    let upTo = liveRows.length === pageSize ? lastKey(liveRows) : undefined;
    const replayedRows = await page(replayed, after, upTo);
    if (replayedRows.length === pageSize && (upTo === undefined || JSON.stringify(lastKey(replayedRows)) !== JSON.stringify(upTo))) {
      upTo = lastKey(replayedRows);
      liveRows = await page(live, after, upTo);
    }
    result.liveRows += liveRows.length;
    result.replayedRows += replayedRows.length;
    const liveByKey = new Map(liveRows.map((row) => [JSON.stringify(row.key), row]));
    for (const b of replayedRows) {
      const a = liveByKey.get(JSON.stringify(b.key));
      liveByKey.delete(JSON.stringify(b.key));
      if (!a) {
        if (args.heldOutsideRange && (await args.heldOutsideRange(b.key))) continue;
        result.missing++;
        if (wantsExample()) result.examples.push(`${table} ${describeKey(b.key)}: produced by the events, missing from the live table`);
      } else if (a.digest !== b.digest) {
        result.different++;
        if (!wantsExample()) continue;
        const [liveRow, replayedRow] = [await rowOf(live, a.key), await rowOf(replayed, b.key)];
        const columns = Object.keys({ ...liveRow, ...replayedRow }).filter(
          (column) => JSON.stringify(liveRow[column]) !== JSON.stringify(replayedRow[column]),
        );
        result.examples.push(
          `${table} ${describeKey(a.key)}: ` +
            columns.map((c) => `${c} is ${JSON.stringify(liveRow[c])}, the events say ${JSON.stringify(replayedRow[c])}`).join('; '),
        );
      }
    }
    for (const a of liveByKey.values()) {
      result.unexpected++;
      if (wantsExample()) result.examples.push(`${table} ${describeKey(a.key)}: in the live table, but the events do not produce it`);
    }
    progress.report(result.liveRows, 'live rows compared', result.liveRows, args.expectedRows);
    if (upTo === undefined) break;
    after = upTo;
  }
  progress.report(result.liveRows, 'live rows compared', 0, 0, true);
  return result;
}

/** The report as lines a person reads in a terminal. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines = [
    `Verified ${describeRange(report.range)}: replayed ${report.events} events in ${report.replayMs} ms, ` +
      `compared in ${report.durationMs - report.replayMs} ms (${report.durationMs} ms in all).`,
  ];
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
