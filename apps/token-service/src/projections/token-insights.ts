import { Inject, Injectable } from '@nestjs/common';
import {
  TOKEN_STATUSES,
  TokenHistoryEvent,
  TokenHistoryQuery,
  TokenHistoryResult,
  TokenStatsQuery,
  TokenStatsResult,
  TokenStatus,
  tokenNotFound,
  tokenStreamId,
} from '@waitpoints/contracts';
import { CLOCK, Clock } from '../commands/clock';
import { Database } from '../database/database';
import { readStreams } from '../event-store/event-store';
import { lowestIdAt } from './token-queries';

/** Counts that read many index entries: a status beyond the exact limit, or a busy last hour. */
function countsAreLarge(result: TokenStatsResult): boolean {
  const lastHour = Object.values(result.lastHour).reduce((sum, n) => sum + n, 0);
  return (result.estimated?.length ?? 0) > 0 || lastHour >= EXACT_STATUS_COUNT_LIMIT;
}

/** Outputs longer than this are cut in the timeline; the full output is read with qry.token.get. */
export const HISTORY_OUTPUT_PREVIEW_CHARS = 16_384;

const HOUR_MS = 3_600_000;

/**
 * Up to this many tokens of one status are counted exactly: an index-only scan of at most this
 * many entries of (environment, status, id), a few milliseconds (a limit of 100,000 took 80 ms
 * per status at 1 M tokens). Beyond it the count is PostgreSQL's estimate from its statistics
 * (reltuples × the status's and the environment's frequencies): a plan, no scan; the status is
 * then listed as `estimated`.
 */
export const EXACT_STATUS_COUNT_LIMIT = 10_000;

/**
 * Counts over a large history are reused for this long (ms): an environment with a status
 * beyond EXACT_STATUS_COUNT_LIMIT, or a last hour of more tokens than that, costs tens of
 * milliseconds of database work per count, and every open overview asks every few seconds.
 * Smaller counts (most deployments' first months, and the tests) are computed afresh on every
 * request. The overview shows when its counts were taken (`at`).
 */
export const STATS_REUSE_MS = 2_000;

interface RecentStats {
  result: Promise<TokenStatsResult>;
  /** When the computation started; whether its result may be reused (undefined while it runs). */
  startedAt: number;
  reusable?: boolean;
}

/**
 * What the ops dashboard reads besides the token list: one token's full history from the
 * event store, and an environment's counts from the read table. Both are environment-scoped.
 */
@Injectable()
export class TokenInsights {
  constructor(
    private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async history(query: TokenHistoryQuery): Promise<TokenHistoryResult> {
    const streamId = tokenStreamId(query.tokenId);
    const events = (await readStreams(this.db.reads, [streamId])).get(streamId)?.events ?? [];
    // The environment is fixed by the stream's first event: another environment's token is unknown here.
    const first = events[0];
    if (!first || first.type !== 'TokenCreated' || first.data.environment !== query.environment) {
      throw tokenNotFound(query.tokenId);
    }
    return { tokenId: query.tokenId, events: events.map(withOutputPreview) };
  }

  private readonly recentStats = new Map<string, RecentStats>();

  /**
   * An environment's counts. Requests that arrive while they are being counted share that
   * count; counts over a large history are reused for STATS_REUSE_MS.
   */
  stats(query: TokenStatsQuery): Promise<TokenStatsResult> {
    const now = this.clock.now().getTime();
    const recent = this.recentStats.get(query.environment);
    if (recent && (recent.reusable === undefined || (recent.reusable && now - recent.startedAt < STATS_REUSE_MS))) {
      return recent.result;
    }
    const entry: RecentStats = { startedAt: now, result: this.countNow(query) };
    this.recentStats.set(query.environment, entry);
    entry.result.then(
      (result) => (entry.reusable = countsAreLarge(result)),
      () => this.recentStats.get(query.environment) === entry && this.recentStats.delete(query.environment),
    );
    return entry.result;
  }

  private async countNow(query: TokenStatsQuery): Promise<TokenStatsResult> {
    const now = this.clock.now();
    const hourAgo = new Date(now.getTime() - HOUR_MS);
    const m = this.db.reads;
    const env = query.environment;

    const [statusCounts, oldestRows, createdRows, finishedRows] = await Promise.all([
      Promise.all(TOKEN_STATUSES.map((status) => this.countStatus(env, status))),
      // Ids sort by creation time, so the first waiting id is the oldest (index on environment, status, id).
      m.query(`SELECT created_at FROM waitpoint_tokens WHERE environment = $1 AND status = 'WAITING' ORDER BY id LIMIT 1`, [
        env,
      ]) as Promise<{ created_at: Date }[]>,
      // The id bound (a ULID made of the hour-ago time) lets the (environment, id) index find the range;
      // created_at keeps the count exact.
      m.query(`SELECT count(*)::int AS n FROM waitpoint_tokens WHERE environment = $1 AND id >= $2 AND created_at >= $3`, [
        env,
        lowestIdAt(hourAgo),
        hourAgo,
      ]) as Promise<{ n: number }[]>,
      m.query(
        `SELECT status, count(*)::int AS n FROM waitpoint_tokens
          WHERE environment = $1 AND completed_at IS NOT NULL AND completed_at >= $2 GROUP BY status`,
        [env, hourAgo],
      ) as Promise<{ status: TokenStatus; n: number }[]>,
    ]);

    const byStatus = Object.fromEntries(TOKEN_STATUSES.map((s, i) => [s, statusCounts[i].n])) as Record<TokenStatus, number>;
    const estimated = TOKEN_STATUSES.filter((_, i) => statusCounts[i].estimated);
    const finished = (status: TokenStatus) => finishedRows.find((r) => r.status === status)?.n ?? 0;

    const result: TokenStatsResult = {
      at: now.toISOString(),
      byStatus,
      lastHour: {
        created: createdRows[0]?.n ?? 0,
        completed: finished('COMPLETED'),
        timedOut: finished('TIMED_OUT'),
        cancelled: finished('CANCELLED'),
        rejected: finished('REJECTED'),
      },
    };
    if (estimated.length > 0) result.estimated = estimated;
    if (oldestRows.length > 0) result.oldestWaitingCreatedAt = new Date(oldestRows[0].created_at).toISOString();
    return result;
  }

  /** Exact up to EXACT_STATUS_COUNT_LIMIT, PostgreSQL's estimate beyond (never below the limit). */
  private async countStatus(environment: string, status: TokenStatus): Promise<{ n: number; estimated: boolean }> {
    const sql = this.db.reads;
    const [{ n }] = await sql.query<{ n: number }>({
      name: 'waitpoints-stats-bounded-count-v1',
      text: `SELECT count(*)::int AS n FROM (
               SELECT 1 FROM waitpoint_tokens WHERE environment = $1 AND status = $2 LIMIT $3) bounded`,
      values: [environment, status, EXACT_STATUS_COUNT_LIMIT + 1],
    });
    if (n <= EXACT_STATUS_COUNT_LIMIT) return { n, estimated: false };
    // The planner's row estimate of the same filter (unnamed statement: planned for these values).
    const [row] = await sql.query<{ 'QUERY PLAN': { Plan: { 'Plan Rows': number } }[] }>(
      `EXPLAIN (FORMAT JSON) SELECT 1 FROM waitpoint_tokens WHERE environment = $1 AND status = $2`,
      [environment, status],
    );
    const planned = Math.round(row['QUERY PLAN'][0].Plan['Plan Rows']);
    return { n: Math.max(planned, n), estimated: true };
  }
}

function withOutputPreview(envelope: TokenHistoryEvent): TokenHistoryEvent {
  const output = (envelope.data as { output?: unknown }).output;
  if (typeof output !== 'string') return envelope;
  const chars = [...output];
  if (chars.length <= HISTORY_OUTPUT_PREVIEW_CHARS) return envelope;
  return {
    ...envelope,
    data: { ...envelope.data, output: chars.slice(0, HISTORY_OUTPUT_PREVIEW_CHARS).join('') },
    outputTruncatedFromChars: chars.length,
  } as TokenHistoryEvent;
}
