import type { Database, Sql } from '../../database/database';
import { CreatedRange, describeRange, isWholeHistory, rowsInRange } from './created-range';
import { EventReplay, Snapshot } from './event-replay';
import {
  LIVE_ONLY_COLUMNS,
  LIVE_ONLY_ROWS_STILL_MOVING,
  PROJECTION_TABLES,
  cloneTables,
  copiedColumnsOf,
  copyOwnerAndGrants,
  createSecondaryIndexes,
  definitionOf,
  ident,
  liveSchemaOf,
  primaryKeyOf,
  qualified,
} from './projection-tables';

export const REBUILD_SCHEMA = 'waitpoints_projection_rebuild';
const RETIRED_SCHEMA = 'waitpoints_projection_retired';
const REBUILD_LOCK = 'waitpoints:projections:rebuild';

export interface RebuildOptions {
  /** Unlocked catch-up rounds before the swap (each replays what was committed during the previous). */
  maxCatchUpRounds?: number;
  /** A catch-up this small is done under the lock, in the swap itself. */
  swapWhenBehindBy?: number;
  /** How long one attempt waits for the table locks before it lets the service's transactions through and retries. */
  lockTimeoutMs?: number;
  lockAttempts?: number;
  /**
   * Only the tokens created in this range (and their keys): their rows are replaced in the live
   * tables, the rest is left as it is. Without one, every table is rebuilt and swapped whole.
   */
  range?: CreatedRange;
  /** Events per replay chunk. */
  chunkEvents?: number;
  log?: (message: string) => void;
}

export interface RebuildReport {
  schema: string;
  range: CreatedRange;
  events: number;
  catchUpRounds: number;
  eventsReplayedUnderLock: number;
  lockAttempts: number;
  lockHeldMs: number;
  durationMs: number;
}

/**
 * Replays the whole event store into fresh copies of the read tables and swaps them in (or,
 * with a range, replays the events of the tokens created in it and replaces their rows).
 *
 * Safe while token-services run: the replay reads a snapshot and writes into another schema in
 * short transactions; a few catch-up rounds replay what was committed meanwhile; then one
 * transaction locks the live tables (ACCESS EXCLUSIVE, in the order the projection writes
 * them), replays the last events, and swaps the tables by moving them between schemas. Commands
 * arriving during that short swap wait for the lock and then project into the new tables
 * (PostgreSQL looks a table name up again after waiting for its lock). Only one rebuild runs at a
 * time (advisory lock); the table grants and owner are carried over.
 *
 * With a range, the replay goes into staging tables and the last transaction, holding the live
 * tables in EXCLUSIVE mode (writers wait, readers do not), replays the last events, deletes the
 * range's rows and inserts the replayed ones: readers see the old rows until it commits, then
 * the new ones, never a half-replaced range.
 */
export async function rebuildProjections(db: Database, options: RebuildOptions = {}): Promise<RebuildReport> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const maxRounds = options.maxCatchUpRounds ?? 5;
  const swapWhenBehindBy = options.swapWhenBehindBy ?? 1_000;
  // Below PostgreSQL's deadlock_timeout (1 s by default): when a command holds one table and
  // waits for another we hold, our lock wait ends first and the command is never the deadlock victim.
  const lockTimeoutMs = options.lockTimeoutMs ?? 200;
  const lockAttempts = options.lockAttempts ?? 100;
  const range = options.range ?? {};
  const wholeHistory = isWholeHistory(range);

  const guard = await db.pool.connect();
  try {
    const {
      rows: [{ locked }],
    } = await guard.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [REBUILD_LOCK]);
    if (!locked) throw new Error('another projections rebuild is running on this database; wait for it to finish');

    const liveSchema = await liveSchemaOf(db);
    const definition = await definitionOf(db, liveSchema);
    await db.query(`DROP SCHEMA IF EXISTS ${ident(REBUILD_SCHEMA)} CASCADE`);
    await db.query(`DROP SCHEMA IF EXISTS ${ident(RETIRED_SCHEMA)} CASCADE`);
    await db.query(`CREATE SCHEMA ${ident(REBUILD_SCHEMA)}`);
    // A range's tables only stage rows that are copied into the live ones: no WAL needed.
    await cloneTables(db, liveSchema, REBUILD_SCHEMA, { unlogged: !wholeHistory });

    const replay = new EventReplay(db, liveSchema, REBUILD_SCHEMA, { range, chunkEvents: options.chunkEvents, log });
    let snapshot = await Snapshot.take(db);
    let lastSnapshotId: string;
    let rounds = 0;
    try {
      log(`replaying the events of ${describeRange(range)} into ${REBUILD_SCHEMA}`);
      const initial = await replay.replay(snapshot);
      log(`replayed ${initial} events into ${REBUILD_SCHEMA}`);
      if (wholeHistory) {
        log('building the secondary indexes (after the load: faster than keeping them up to date row by row)');
        const indexesStarted = Date.now();
        await createSecondaryIndexes(db, liveSchema, REBUILD_SCHEMA);
        log(`built the secondary indexes in ${Date.now() - indexesStarted} ms`);
        // Statistics before the swap: new tables have none until autovacuum gets to them, and the
        // service's queries (and a verify right after) would be planned blind meanwhile.
        for (const table of PROJECTION_TABLES) await db.query(`ANALYZE ${qualified(REBUILD_SCHEMA, table)}`);
        await copyOwnerAndGrants(db, liveSchema, REBUILD_SCHEMA);
      }
      for (;;) {
        const previous = snapshot;
        snapshot = await Snapshot.take(db);
        await previous.release();
        const caughtUp = await replay.replay(snapshot, previous.id);
        rounds++;
        log(`catch-up round ${rounds}: ${caughtUp} events committed meanwhile`);
        if (caughtUp <= swapWhenBehindBy || rounds >= maxRounds) break;
      }
    } finally {
      lastSnapshotId = snapshot.id;
      await snapshot.release();
    }
    if (wholeHistory) await carryOverLiveOnlyColumns(db, liveSchema, false);
    // Statistics of the range's staging tables, so that the statements under the lock join
    // them to the live tables by primary key instead of scanning those.
    else for (const table of PROJECTION_TABLES) await db.query(`ANALYZE ${qualified(REBUILD_SCHEMA, table)}`);

    for (let attempt = 1; ; attempt++) {
      try {
        const swapped = await db.transaction((m) =>
          wholeHistory
            ? swapIn(m, { replay, liveSchema, definition, lastSnapshotId, lockTimeoutMs })
            : replaceRange(m, { replay, liveSchema, definition, lastSnapshotId, lockTimeoutMs }, range),
        );
        log(
          `${wholeHistory ? 'swapped in' : 'replaced the range'} after ${attempt} lock attempt(s); ` +
            `${swapped.underLock} events replayed under the lock, held ${swapped.lockHeldMs} ms`,
        );
        return {
          schema: liveSchema,
          range,
          events: replay.replayed,
          catchUpRounds: rounds,
          eventsReplayedUnderLock: swapped.underLock,
          lockAttempts: attempt,
          lockHeldMs: swapped.lockHeldMs,
          durationMs: Date.now() - started,
        };
      } catch (error) {
        // 55P03: lock_timeout. Busy tables (or a command holding one table while waiting for
        // another): back off and let the service's transactions through.
        if ((error as { code?: string }).code !== '55P03' || attempt >= lockAttempts) throw error;
        log(`tables busy, retrying the swap (attempt ${attempt})`);
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
      }
    }
  } catch (error) {
    await db.query(`DROP SCHEMA IF EXISTS ${ident(REBUILD_SCHEMA)} CASCADE`).catch(() => undefined);
    throw error;
  } finally {
    await guard.query(`SELECT pg_advisory_unlock(hashtext($1))`, [REBUILD_LOCK]).catch(() => undefined);
    guard.release();
  }
}

/** What a rebuild's last step (swapIn, replaceRange) works with. */
interface LastStep {
  replay: EventReplay;
  liveSchema: string;
  /** The live tables' definition when the rebuild began (a migration meanwhile aborts it). */
  definition: string;
  lastSnapshotId: string;
  lockTimeoutMs: number;
}

/**
 * The start of a rebuild's last step: locks the live tables in `mode`, checks that no migration
 * changed them meanwhile, and replays, in this transaction, what the last round did not see.
 * Every command that projected has committed (we waited for its lock); every other one waits for ours.
 */
async function lockAndCatchUp(
  m: Sql,
  { replay, liveSchema, definition, lastSnapshotId, lockTimeoutMs }: LastStep,
  mode: 'ACCESS EXCLUSIVE' | 'EXCLUSIVE',
): Promise<{ lockedAt: number; underLock: number }> {
  // Waits at most lockTimeoutMs for the lock.
  await m.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
  await m.query(`LOCK TABLE ${PROJECTION_TABLES.map((table) => qualified(liveSchema, table)).join(', ')} IN ${mode} MODE`);
  const lockedAt = Date.now();
  if ((await definitionOf(m, liveSchema)) !== definition) {
    throw new Error('the read tables changed definition during the rebuild (a migration ran); run the rebuild again');
  }
  return { lockedAt, underLock: await replay.replayWithin(m, lastSnapshotId) };
}

async function swapIn(m: Sql, step: LastStep): Promise<{ underLock: number; lockHeldMs: number }> {
  const { liveSchema } = step;
  const { lockedAt, underLock } = await lockAndCatchUp(m, step, 'ACCESS EXCLUSIVE');
  await carryOverLiveOnlyColumns(m, liveSchema, true);
  await m.query(`CREATE SCHEMA ${ident(RETIRED_SCHEMA)}`);
  for (const table of PROJECTION_TABLES) {
    await m.query(`ALTER TABLE ${qualified(liveSchema, table)} SET SCHEMA ${ident(RETIRED_SCHEMA)}`);
    await m.query(`ALTER TABLE ${qualified(REBUILD_SCHEMA, table)} SET SCHEMA ${ident(liveSchema)}`);
  }
  try {
    for (const table of PROJECTION_TABLES) await m.query(`DROP TABLE ${qualified(RETIRED_SCHEMA, table)}`);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}: a view or other object depends on the read tables; drop it, rebuild, and create it again`,
      { cause: error },
    );
  }
  await m.query(`DROP SCHEMA ${ident(RETIRED_SCHEMA)}`);
  await m.query(`DROP SCHEMA ${ident(REBUILD_SCHEMA)}`);
  return { underLock, lockHeldMs: Date.now() - lockedAt };
}

/**
 * A range's last step: under EXCLUSIVE locks on the live tables (the service's writes wait,
 * reads go on), replays what the last round did not see, then replaces the range's rows of
 * each table with the replayed ones, in one transaction.
 */
async function replaceRange(m: Sql, step: LastStep, range: CreatedRange): Promise<{ underLock: number; lockHeldMs: number }> {
  const { liveSchema } = step;
  const { lockedAt, underLock } = await lockAndCatchUp(m, step, 'EXCLUSIVE');
  // The staging tables hold the range's rows only: one pass, by primary key, is short.
  await carryOverLiveOnlyColumns(m, liveSchema, false);
  // Only rows that differ are written (usually none): fewer writes under the lock, and rows
  // that were right keep their place. Keys first: an idempotency key row is the range's when its
  // token row (live, or replayed: a token row may be what is missing) is; one statement per
  // side, so each joins by index.
  for (const table of ['waitpoint_request_keys', 'waitpoint_idempotency_keys', 'waitpoint_tokens'] as const) {
    const keys = (await primaryKeyOf((sql, parameters) => m.query(sql, parameters), liveSchema, table)).map(ident);
    const sameKey = keys.map((column) => `n.${column} = t.${column}`).join(' AND ');
    for (const tokens of table === 'waitpoint_idempotency_keys' ? [liveSchema, REBUILD_SCHEMA] : [liveSchema]) {
      await m.query(
        `DELETE FROM ${qualified(liveSchema, table)} t
          WHERE ${rowsInRange(range, table, 't', qualified(tokens, 'waitpoint_tokens'))}
            AND NOT EXISTS (SELECT 1 FROM ${qualified(REBUILD_SCHEMA, table)} n WHERE ${sameKey} AND to_jsonb(n) = to_jsonb(t))`,
      );
    }
  }
  for (const table of PROJECTION_TABLES) {
    const keys = (await primaryKeyOf((sql, parameters) => m.query(sql, parameters), liveSchema, table)).map(ident);
    const columns = (await copiedColumnsOf(m, liveSchema, table)).map(ident).join(', ');
    // A live row with the key is either the same row (kept above) or, for a key, one that a
    // token created after the range took over once it expired: it stays.
    await m.query(
      `INSERT INTO ${qualified(liveSchema, table)} (${columns})
       SELECT ${columns} FROM ${qualified(REBUILD_SCHEMA, table)} n
        WHERE NOT EXISTS (SELECT 1 FROM ${qualified(liveSchema, table)} t WHERE ${keys.map((column) => `t.${column} = n.${column}`).join(' AND ')})`,
    );
  }
  await m.query(`DROP SCHEMA ${ident(REBUILD_SCHEMA)} CASCADE`);
  return { underLock, lockHeldMs: Date.now() - lockedAt };
}

/**
 * The live values of the columns no event sets alone (heartbeat deadlines) into the rebuilt
 * tables: a rebuild must not move a heartbeating token's deadline back to what its creation
 * said, or the next timer would time it out.
 *
 * Twice: first for every row, before the lock (a join over the whole table: seconds per
 * million tokens, too long to hold the live tables); then under the swap's lock for the rows
 * whose values can still have moved meanwhile (LIVE_ONLY_ROWS_STILL_MOVING: WAITING tokens,
 * found by an index). Only rows whose values differ are written.
 */
async function carryOverLiveOnlyColumns(m: Sql, liveSchema: string, onlyStillMoving: boolean): Promise<void> {
  for (const table of PROJECTION_TABLES) {
    const columns = LIVE_ONLY_COLUMNS[table];
    if (columns.length === 0) continue;
    const keys = await primaryKeyOf((sql, parameters) => m.query(sql, parameters), liveSchema, table);
    const tuple = (alias: string) => `(${columns.map((c) => `${alias}.${ident(c)}`).join(', ')})`;
    await m.query(
      `UPDATE ${qualified(REBUILD_SCHEMA, table)} n SET ${columns.map((c) => `${ident(c)} = l.${ident(c)}`).join(', ')}
         FROM ${qualified(liveSchema, table)} l
        WHERE ${keys.map((column) => `n.${ident(column)} = l.${ident(column)}`).join(' AND ')}
          AND ${tuple('n')} IS DISTINCT FROM ${tuple('l')}
          ${onlyStillMoving ? `AND ${LIVE_ONLY_ROWS_STILL_MOVING[table]('l')}` : ''}`,
    );
  }
}
