import { tokenIdOfStream } from '@waitpoints/contracts';
import { PROJECTIONS_REBUILD_LOCK, RETENTION_PASS_LOCK } from '../../database/advisory-locks';
import type { Database, Sql } from '../../database/database';
import { CreatedRange, describeRange, isWholeHistory, rowsInRange } from './created-range';
import { EventReplay, Snapshot } from './event-replay';
import {
  LIVE_ONLY_COLUMNS,
  LIVE_ONLY_ROWS_STILL_MOVING,
  PROJECTION_TABLES,
  ProjectionTable,
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
/** A range's tokens whose rows the last step replaces (see markTokensToReplace). */
const TOKENS_TO_REPLACE = 'tokens_to_replace';

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
    } = await guard.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [PROJECTIONS_REBUILD_LOCK]);
    if (!locked) throw new Error('another projections rebuild is running on this database; wait for it to finish');
    // No token leaves the hot tables while the rebuild runs: nothing replays a removal, so the
    // replayed tables would bring back the rows of a token retention removed after the replay
    // had read its events. Retention passes skip while this is held and resume after.
    const retentionIdle = await guard.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [
      RETENTION_PASS_LOCK,
    ]);
    if (!retentionIdle.rows[0].locked) {
      log('a token retention pass is running; waiting for it to finish (retention then pauses until the rebuild is done)');
      await guard.query(`SELECT pg_advisory_lock(hashtext($1))`, [RETENTION_PASS_LOCK]);
    }

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
    await carryOverLiveOnlyColumns(db, liveSchema, 'every row');
    if (!wholeHistory) {
      // Statistics of the range's staging tables, so that the statements below join them to the
      // live tables by primary key instead of scanning those.
      for (const table of PROJECTION_TABLES) await db.query(`ANALYZE ${qualified(REBUILD_SCHEMA, table)}`);
      const compared = Date.now();
      const differing = await markTokensToReplace(db, liveSchema, range);
      log(`compared the range with the live tables before locking them: ${differing} token(s) differ (${Date.now() - compared} ms)`);
    }

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
    await guard.query(`SELECT pg_advisory_unlock_all()`).catch(() => undefined);
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
): Promise<{ lockedAt: number; underLock: number; replayedTokenIds: string[] }> {
  // Waits at most lockTimeoutMs for the lock.
  await m.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
  await m.query(`LOCK TABLE ${PROJECTION_TABLES.map((table) => qualified(liveSchema, table)).join(', ')} IN ${mode} MODE`);
  const lockedAt = Date.now();
  if ((await definitionOf(m, liveSchema)) !== definition) {
    throw new Error('the read tables changed definition during the rebuild (a migration ran); run the rebuild again');
  }
  const replayed = await replay.replayWithin(m, lastSnapshotId);
  return { lockedAt, underLock: replayed.length, replayedTokenIds: [...new Set(replayed.map((event) => tokenIdOfStream(event.streamId)))] };
}

async function swapIn(m: Sql, step: LastStep): Promise<{ underLock: number; lockHeldMs: number }> {
  const { liveSchema } = step;
  const { lockedAt, underLock } = await lockAndCatchUp(m, step, 'ACCESS EXCLUSIVE');
  await carryOverLiveOnlyColumns(m, liveSchema, 'rows still moving');
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

type CarryOverRows = 'every row' | 'rows still moving' | { ofTokensIn: string };

/** The column of each read table that names the token a row belongs to. */
const TOKEN_COLUMN: Record<ProjectionTable, string> = {
  waitpoint_tokens: 'id',
  waitpoint_idempotency_keys: 'token_id',
  waitpoint_request_keys: 'token_id',
};

/**
 * The live rows of a range that no replayed row equals, per table (`alias` t), and the
 * replayed rows that no live row equals (alias n): what a range's last step must replace.
 * Keys first: an idempotency key row is the range's when its token row (live, or replayed: a
 * token row may be what is missing) is; one statement per side, so each joins by index.
 */
function rangeDifferences(liveSchema: string, range: CreatedRange, table: ProjectionTable, keys: string[]) {
  const sameKey = keys.map((column) => `n.${column} = t.${column}`).join(' AND ');
  const live = qualified(liveSchema, table);
  const replayed = qualified(REBUILD_SCHEMA, table);
  return {
    liveRowsDiffering: (table === 'waitpoint_idempotency_keys' ? [liveSchema, REBUILD_SCHEMA] : [liveSchema]).map(
      (tokens) =>
        `${rowsInRange(range, table, 't', qualified(tokens, 'waitpoint_tokens'))}
         AND NOT EXISTS (SELECT 1 FROM ${replayed} n WHERE ${sameKey} AND to_jsonb(n) = to_jsonb(t))`,
    ),
    replayedRowsDiffering: `NOT EXISTS (SELECT 1 FROM ${live} t WHERE ${sameKey} AND to_jsonb(n) = to_jsonb(t))`,
  };
}

/**
 * Before a range's last step, without locks: the tokens of the range whose rows, in any read
 * table, differ from the replay (the drifted ones, and those that commands moved since the last
 * catch-up round), into REBUILD_SCHEMA.TOKENS_TO_REPLACE. The last
 * step compares and replaces only those, and the tokens whose events it replays under its lock,
 * so the comparison of the whole range (14 s for a day of 333,000 tokens among 10 million)
 * no longer holds up the service's writes. Nothing else changes a range's rows meanwhile:
 * events are replayed under the lock, heartbeats are carried over again there, and retention
 * waits for the rebuild. Returns how many tokens were marked.
 */
async function markTokensToReplace(db: Database, liveSchema: string, range: CreatedRange): Promise<number> {
  const marked = qualified(REBUILD_SCHEMA, TOKENS_TO_REPLACE);
  await db.query(`CREATE UNLOGGED TABLE ${marked} (token_id text PRIMARY KEY)`);
  for (const table of PROJECTION_TABLES) {
    const keys = (await primaryKeyOf((sql, parameters) => db.query(sql, parameters), liveSchema, table)).map(ident);
    const token = ident(TOKEN_COLUMN[table]);
    const { liveRowsDiffering, replayedRowsDiffering } = rangeDifferences(liveSchema, range, table, keys);
    for (const differing of liveRowsDiffering) {
      await db.query(
        `INSERT INTO ${marked} SELECT DISTINCT t.${token} FROM ${qualified(liveSchema, table)} t
          WHERE ${differing} AND t.${token} IS NOT NULL ON CONFLICT DO NOTHING`,
      );
    }
    await db.query(
      `INSERT INTO ${marked} SELECT DISTINCT n.${token} FROM ${qualified(REBUILD_SCHEMA, table)} n
        WHERE ${replayedRowsDiffering} AND n.${token} IS NOT NULL ON CONFLICT DO NOTHING`,
    );
  }
  await db.query(`ANALYZE ${marked}`);
  const [{ count }] = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${marked}`);
  return count;
}

/**
 * A range's last step: under EXCLUSIVE locks on the live tables (the service's writes wait,
 * reads go on), replays what the last round did not see, then replaces the rows of the tokens
 * marked before the lock (markTokensToReplace) and of the tokens just replayed with their
 * replayed rows, in one transaction.
 */
async function replaceRange(m: Sql, step: LastStep, range: CreatedRange): Promise<{ underLock: number; lockHeldMs: number }> {
  const { liveSchema } = step;
  const { lockedAt, underLock, replayedTokenIds } = await lockAndCatchUp(m, step, 'EXCLUSIVE');
  const marked = qualified(REBUILD_SCHEMA, TOKENS_TO_REPLACE);
  await m.query(`INSERT INTO ${marked} SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [replayedTokenIds]);
  // What heartbeats moved since the carry-over before the lock, in the rows to be replaced.
  await carryOverLiveOnlyColumns(m, liveSchema, { ofTokensIn: marked });
  // Of the marked tokens, only rows that differ are written: rows that were right keep their place.
  for (const table of ['waitpoint_request_keys', 'waitpoint_idempotency_keys', 'waitpoint_tokens'] as const) {
    const keys = (await primaryKeyOf((sql, parameters) => m.query(sql, parameters), liveSchema, table)).map(ident);
    const token = ident(TOKEN_COLUMN[table]);
    for (const differing of rangeDifferences(liveSchema, range, table, keys).liveRowsDiffering) {
      await m.query(
        `DELETE FROM ${qualified(liveSchema, table)} t
          WHERE t.${token} IN (SELECT token_id FROM ${marked}) AND ${differing}`,
      );
    }
  }
  for (const table of PROJECTION_TABLES) {
    const keys = (await primaryKeyOf((sql, parameters) => m.query(sql, parameters), liveSchema, table)).map(ident);
    const columns = (await copiedColumnsOf(m, liveSchema, table)).map(ident).join(', ');
    const token = ident(TOKEN_COLUMN[table]);
    // A live row with the key is either the same row (kept above) or, for a key, one that a
    // token created after the range took over once it expired: it stays.
    await m.query(
      `INSERT INTO ${qualified(liveSchema, table)} (${columns})
       SELECT ${columns} FROM ${qualified(REBUILD_SCHEMA, table)} n
        WHERE n.${token} IN (SELECT token_id FROM ${marked})
          AND NOT EXISTS (SELECT 1 FROM ${qualified(liveSchema, table)} t WHERE ${keys.map((column) => `t.${column} = n.${column}`).join(' AND ')})`,
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
 * found by an index), or, for a range, for the rows it replaces (a row it leaves in place keeps
 * its live values anyway). Only rows whose values differ are written.
 */
async function carryOverLiveOnlyColumns(m: Sql, liveSchema: string, rows: CarryOverRows): Promise<void> {
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
          ${
            rows === 'every row'
              ? ''
              : rows === 'rows still moving'
                ? `AND ${LIVE_ONLY_ROWS_STILL_MOVING[table]('l')}`
                : `AND n.${ident(TOKEN_COLUMN[table])} IN (SELECT token_id FROM ${rows.ofTokensIn})`
          }`,
    );
  }
}
