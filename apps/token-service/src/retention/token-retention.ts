import { Logger } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { tokenStreamId } from '@waitpoints/contracts';
import { withTimeout } from '@waitpoints/platform';
import type { Clock } from '../commands/clock';
import { retentionOf, TokenRetentionPolicy } from '../config';
import type { Database, Sql } from '../database/database';
import { onClient } from '../database/database';
import { RETENTION_PASS_LOCK } from '../database/advisory-locks';
import { ARCHIVED_EVENT_COLUMNS, ArchivedEvent, ArchivedToken, ArchiveWriteError, EventArchive } from './event-archive';

/** What a retention pass reports to the metrics (TokenServiceMetrics implements it). */
export interface RetentionMetrics {
  recordRetentionBatch(environment: string, removed: number, archived: number): void;
  recordArchiveFailure(): void;
  recordRetentionPass(seconds: number): void;
}

export interface TokenRetentionOptions {
  policy: TokenRetentionPolicy;
  /** The outbox relay's row in es_checkpoints: only events at or before it may be removed. */
  outboxSubscriberId: string;
  batchSize: number;
  intervalMs: number;
  /** Most tokens removed per second (0 or unset: no pacing); batches are spaced to stay under it. */
  maxRate?: number;
  /** Where removed tokens' events are written first; without it they are removed without a copy. */
  archive?: EventArchive;
  /** Longest one batch's archive write may take (default ARCHIVE_WRITE_DEADLINE_MS). */
  archiveWriteDeadlineMs?: number;
  clock: Clock;
  metrics?: RetentionMetrics;
}

export interface RetentionPassReport {
  /** False when another instance was running a pass (this one did nothing). */
  ran: boolean;
  removed: number;
  archived: number;
  durationMs: number;
}

/**
 * Longest a batch's archive write (segments, fsync, read-back) may take. Past it the batch is
 * given up with nothing removed, and the pass ends; the next pass archives the tokens again. A
 * write that never completes must not stop retention for the life of the process: one was
 * seen to wait forever on a read-back of a segment it had just written (bench:retention,
 * 2026-12-01: no file operation pending, the promise simply never settled).
 */
export const ARCHIVE_WRITE_DEADLINE_MS = 60_000;

/**
 * Removes finished tokens whose finish is older than their environment's retention from the hot
 * tables: their events (es_events), their projection row and their key reservations, archiving
 * their events first when an archive is configured.
 *
 * Invariants:
 * - WAITING tokens are never removed: candidates are rows with a finish time, and the delete and
 *   the es_events trigger both require a status other than WAITING.
 * - An event is removed only once the outbox has published it: every event of a candidate is at
 *   or before the relay's checkpoint in es_checkpoints, (transaction_id, global_position) order.
 * - Nothing is deleted unless its archive segment was written, read back and verified; the delete
 *   transaction checks it removes exactly the events that were archived.
 *
 * Why an advisory lock per pass and not FOR UPDATE SKIP LOCKED: the archive is written (and
 * fsynced, and read back) before the delete, and that file I/O must not happen inside a
 * transaction that holds a transaction id, because the outbox relay reads only events below
 * the oldest running transaction: a slow disk would hold up publishing. Work done outside a
 * transaction cannot be divided by row locks, so one instance runs the passes at a time (the
 * others find the lock taken and skip), and each batch's delete is one short transaction that
 * locks only finished rows. A projections rebuild holds the same lock while it runs (a removal
 * during its replay would come back in its tables), so passes skip until it is done.
 */
export class TokenRetention {
  private readonly logger = new Logger(TokenRetention.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<RetentionPassReport>;
  private stopping = false;

  constructor(
    private readonly db: Database,
    private readonly options: TokenRetentionOptions,
  ) {}

  start(): void {
    this.logger.log(describeRetention(this.options));
    this.timer = setInterval(() => void this.passInBackground(), this.options.intervalMs);
    this.timer.unref();
    void this.passInBackground();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Batches until nothing is left to remove (or the instance stops). */
  async runPass(): Promise<RetentionPassReport> {
    const started = Date.now();
    const report = await this.onOwnConnection(async (client) => {
      const sql = onClient(client);
      const [{ locked }] = await sql.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [
        RETENTION_PASS_LOCK,
      ]);
      if (!locked) return { ran: false, removed: 0, archived: 0 };
      try {
        let removed = 0;
        let archived = 0;
        const now = this.options.clock.now();
        for (const environment of await environmentsWithFinishedTokens(sql)) {
          const retentionMs = retentionOf(this.options.policy, environment);
          if (retentionMs === undefined) continue;
          const cutoff = new Date(now.getTime() - retentionMs);
          while (!this.stopping) {
            const batchStartedAt = Date.now();
            const batch = await this.removeBatch(client, environment, cutoff);
            removed += batch.removed;
            archived += batch.archived;
            this.options.metrics?.recordRetentionBatch(environment, batch.removed, batch.archived);
            if (batch.candidates < this.options.batchSize) break;
            await this.paceAfter(batch.removed, batchStartedAt);
          }
        }
        return { ran: true, removed, archived };
      } finally {
        await sql.query(`SELECT pg_advisory_unlock(hashtext($1))`, [RETENTION_PASS_LOCK]);
      }
    });
    const durationMs = Date.now() - started;
    if (report.ran) this.options.metrics?.recordRetentionPass(durationMs / 1000);
    return { ...report, durationMs };
  }

  /** Waits out what is left of the time `removed` tokens take at the most rate (maxRate). */
  private async paceAfter(removed: number, startedAt: number): Promise<void> {
    if (!this.options.maxRate) return;
    const wait = startedAt + (removed / this.options.maxRate) * 1000 - Date.now();
    if (wait > 0 && !this.stopping) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /**
   * A pooled connection for the pass (the advisory lock is held by its session). Unless the pass
   * ended cleanly, with the lock released, the connection is closed rather than returned to the
   * pool: a pooled session still holding the lock would stop every instance's retention.
   */
  private async onOwnConnection<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.db.pool.connect();
    let failure: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      failure = error as Error;
      throw error;
    } finally {
      client.release(failure);
    }
  }

  /** One batch of one environment: pick, read, archive and verify, then delete in one short transaction. */
  private async removeBatch(
    client: PoolClient,
    environment: string,
    cutoff: Date,
  ): Promise<{ candidates: number; removed: number; archived: number }> {
    const sql = onClient(client);
    const tokens = (await candidates(sql, environment, cutoff, this.options.outboxSubscriberId, this.options.batchSize)).map(
      (row): ArchivedToken => ({ id: row.id, finishedAt: new Date(row.completed_at) }),
    );
    if (tokens.length === 0) return { candidates: 0, removed: 0, archived: 0 };
    const streamIds = tokens.map((token) => tokenStreamId(token.id));
    const events = await sql.query<ArchivedEvent>(
      `SELECT ${ARCHIVED_EVENT_COLUMNS} FROM es_events WHERE stream_id = ANY($1::text[]) ORDER BY es_events.global_position`,
      [streamIds],
    );
    if (this.options.archive) {
      const deadlineMs = this.options.archiveWriteDeadlineMs ?? ARCHIVE_WRITE_DEADLINE_MS;
      try {
        await withTimeout(
          this.options.archive.write(tokens, events),
          deadlineMs,
          () =>
            new ArchiveWriteError(
              `archiving to ${this.options.archive!.store.location} did not finish within ${deadlineMs / 1000} s (${tokens.length} tokens)`,
            ),
        );
      } catch (error) {
        this.options.metrics?.recordArchiveFailure();
        if (error instanceof ArchiveWriteError) {
          this.logger.error(`${error.message}; no token was removed, the batch will be tried again`);
        }
        throw error;
      }
    }
    const removed = await deleteTokens(client, tokens, events);
    return { candidates: tokens.length, removed, archived: this.options.archive ? removed : 0 };
  }

  private async passInBackground(): Promise<void> {
    if (this.running || this.stopping) return;
    this.running = this.runPass();
    try {
      const report = await this.running;
      if (report.removed > 0) {
        this.logger.log(
          `removed ${report.removed} finished tokens past their retention in ${report.durationMs} ms` +
            (this.options.archive ? ` (archived to ${this.options.archive.store.location})` : ''),
        );
      }
    } catch (error) {
      this.logger.warn(`token retention pass failed, will try again: ${(error as Error).message}`);
    } finally {
      this.running = undefined;
    }
  }
}

/** What retention does, said once at start. */
export function describeRetention(
  options: Pick<TokenRetentionOptions, 'policy' | 'archive' | 'batchSize' | 'intervalMs' | 'maxRate'>,
): string {
  const format = (ms: number | undefined) => (ms === undefined ? 'kept forever' : asDuration(ms));
  const overrides = [...options.policy.overrides].map(([environment, ms]) => `${environment}: ${format(ms)}`).join(', ');
  const what =
    `token retention: finished tokens are removed ${format(options.policy.defaultMs)} after they finished` +
    (overrides ? ` (${overrides})` : '') +
    `, checked every ${asDuration(options.intervalMs)} in batches of ${options.batchSize}` +
    (options.maxRate ? `, at most ${options.maxRate} tokens/s` : '');
  return options.archive
    ? `${what}; their events are archived to ${options.archive.store.location} first`
    : `${what}; without ARCHIVE_DIR, retention only removes finished tokens and keeps no copy`;
}

/** A duration as TOKEN_RETENTION takes it: `30d`, `1h`, `90m`, `45s`. */
function asDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms / 1000}s`;
}

/**
 * The environments that have finished tokens, by skipping through the (environment,
 * completed_at) index one environment at a time: as many index probes as environments.
 */
async function environmentsWithFinishedTokens(sql: Sql): Promise<string[]> {
  const rows = await sql.query<{ environment: string }>(`
    WITH RECURSIVE environments AS (
      (SELECT environment FROM waitpoint_tokens WHERE completed_at IS NOT NULL ORDER BY environment LIMIT 1)
      UNION ALL
      SELECT (SELECT t.environment FROM waitpoint_tokens t
               WHERE t.completed_at IS NOT NULL AND t.environment > e.environment ORDER BY t.environment LIMIT 1)
        FROM environments e WHERE e.environment IS NOT NULL
    )
    SELECT environment FROM environments WHERE environment IS NOT NULL`);
  return rows.map((row) => row.environment);
}

/**
 * The oldest finished tokens of one environment past the cutoff whose every event the outbox
 * has published (no checkpoint row yet: nothing is published, nothing is removable).
 */
function candidates(sql: Sql, environment: string, cutoff: Date, subscriberId: string, limit: number) {
  return sql.query<{ id: string; completed_at: Date }>({
    name: 'waitpoints-retention-candidates',
    text: `
      WITH checkpoint AS (
        SELECT COALESCE((SELECT last_transaction_id FROM es_checkpoints WHERE subscriber_id = $3), '0'::xid8) AS tx,
               COALESCE((SELECT last_global_position FROM es_checkpoints WHERE subscriber_id = $3), 0) AS pos
      )
      SELECT t.id, t.completed_at FROM waitpoint_tokens t, checkpoint c
       WHERE t.environment = $1 AND t.completed_at < $2 AND t.status <> 'WAITING'
         AND NOT EXISTS (SELECT 1 FROM es_events e
                          WHERE e.stream_id = 'token-' || t.id AND (e.transaction_id, e.global_position) > (c.tx, c.pos))
       ORDER BY t.completed_at, t.id
       LIMIT $4`,
    values: [environment, cutoff, subscriberId, limit],
  });
}

/**
 * The delete, one transaction: events first (the trigger requires the projection row in a
 * terminal status), then the key reservations still held by these tokens (a key taken over by a
 * later token stays), then the rows. Rolled back unless it removed exactly the events archived.
 */
async function deleteTokens(client: PoolClient, tokens: ArchivedToken[], events: ArchivedEvent[]): Promise<number> {
  const ids = tokens.map((token) => token.id);
  const keys = reservedKeys(events);
  const sql = onClient(client);
  await client.query('BEGIN');
  try {
    await sql.query(`SET LOCAL waitpoints.retention_pass = 'on'`);
    // A finished row is locked by nobody in normal operation; do not queue behind an odd one for long.
    await sql.query(`SET LOCAL lock_timeout = '5s'`);
    const locked = await sql.query<{ id: string }>(
      `SELECT id FROM waitpoint_tokens WHERE id = ANY($1::text[]) AND status <> 'WAITING' ORDER BY id FOR UPDATE`,
      [ids],
    );
    const lockedIds = new Set(locked.map((row) => row.id));
    const deleted = await sql.query<{ event_id: string }>(`DELETE FROM es_events WHERE stream_id = ANY($1::text[]) RETURNING event_id`, [
      [...lockedIds].map(tokenStreamId),
    ]);
    const expected = new Set(events.filter((event) => lockedIds.has(event.stream_id.slice('token-'.length))).map((e) => e.event_id));
    if (deleted.length !== expected.size || deleted.some((row) => !expected.has(row.event_id))) {
      throw new Error(
        `the events of the batch changed since they were read (${deleted.length} found, ${expected.size} read); nothing removed`,
      );
    }
    await sql.query(
      `DELETE FROM waitpoint_idempotency_keys k
        USING unnest($1::text[], $2::text[], $3::text[]) AS r(environment, idempotency_key, token_id)
        WHERE k.environment = r.environment AND k.idempotency_key = r.idempotency_key AND k.token_id = r.token_id
          AND r.token_id = ANY($4::text[])`,
      [
        keys.idempotency.map((k) => k.environment),
        keys.idempotency.map((k) => k.key),
        keys.idempotency.map((k) => k.tokenId),
        [...lockedIds],
      ],
    );
    await sql.query(
      `DELETE FROM waitpoint_request_keys k
        USING unnest($1::text[], $2::text[], $3::text[]) AS r(environment, request_key, token_id)
        WHERE k.environment = r.environment AND k.request_key = r.request_key AND k.token_id = r.token_id
          AND r.token_id = ANY($4::text[])`,
      [keys.request.map((k) => k.environment), keys.request.map((k) => k.key), keys.request.map((k) => k.tokenId), [...lockedIds]],
    );
    const removed = await sql.query(`DELETE FROM waitpoint_tokens WHERE id = ANY($1::text[]) AND status <> 'WAITING' RETURNING 1`, [
      [...lockedIds],
    ]);
    await client.query('COMMIT');
    return removed.length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The keys each token reserved at creation, as its TokenCreated event names them (found by primary key, no scan). */
function reservedKeys(events: ArchivedEvent[]) {
  const idempotency: { environment: string; key: string; tokenId: string }[] = [];
  const request: { environment: string; key: string; tokenId: string }[] = [];
  for (const event of events) {
    if (event.event_type !== 'TokenCreated') continue;
    const data = event.data as { tokenId: string; environment: string; idempotencyKey?: string; requestIdempotencyKey?: string };
    if (data.idempotencyKey !== undefined)
      idempotency.push({ environment: data.environment, key: data.idempotencyKey, tokenId: data.tokenId });
    if (data.requestIdempotencyKey !== undefined) {
      request.push({ environment: data.environment, key: data.requestIdempotencyKey, tokenId: data.tokenId });
    }
  }
  return { idempotency, request };
}
