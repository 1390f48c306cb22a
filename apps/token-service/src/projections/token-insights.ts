import { Inject, Injectable } from '@nestjs/common';
import { encodeTime } from 'ulid';
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

/** Outputs longer than this are cut in the timeline; the full output is read with qry.token.get. */
export const HISTORY_OUTPUT_PREVIEW_CHARS = 16_384;

const HOUR_MS = 3_600_000;

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
    const events = (await readStreams(this.db, [streamId])).get(streamId)?.events ?? [];
    // The environment is fixed by the stream's first event: another environment's token is unknown here.
    const first = events[0];
    if (!first || first.type !== 'TokenCreated' || first.data.environment !== query.environment) {
      throw tokenNotFound(query.tokenId);
    }
    return { tokenId: query.tokenId, events: events.map(withOutputPreview) };
  }

  async stats(query: TokenStatsQuery): Promise<TokenStatsResult> {
    const now = this.clock.now();
    const hourAgo = new Date(now.getTime() - HOUR_MS);
    const m = this.db;
    const env = query.environment;

    const [statusRows, oldestRows, createdRows, finishedRows] = await Promise.all([
      m.query(`SELECT status, count(*)::int AS n FROM waitpoint_tokens WHERE environment = $1 GROUP BY status`, [env]) as Promise<
        { status: TokenStatus; n: number }[]
      >,
      // Ids sort by creation time, so the first waiting id is the oldest (index on environment, status, id).
      m.query(
        `SELECT created_at FROM waitpoint_tokens WHERE environment = $1 AND status = 'WAITING' ORDER BY id LIMIT 1`,
        [env],
      ) as Promise<{ created_at: Date }[]>,
      // The id bound (a ULID made of the hour-ago time) lets the (environment, id) index find the range;
      // created_at keeps the count exact.
      m.query(
        `SELECT count(*)::int AS n FROM waitpoint_tokens WHERE environment = $1 AND id >= $2 AND created_at >= $3`,
        [env, lowestIdAt(hourAgo), hourAgo],
      ) as Promise<{ n: number }[]>,
      m.query(
        `SELECT status, count(*)::int AS n FROM waitpoint_tokens
          WHERE environment = $1 AND completed_at IS NOT NULL AND completed_at >= $2 GROUP BY status`,
        [env, hourAgo],
      ) as Promise<{ status: TokenStatus; n: number }[]>,
    ]);

    const byStatus = Object.fromEntries(TOKEN_STATUSES.map((s) => [s, 0])) as Record<TokenStatus, number>;
    for (const row of statusRows) byStatus[row.status] = row.n;
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
    if (oldestRows.length > 0) result.oldestWaitingCreatedAt = new Date(oldestRows[0].created_at).toISOString();
    return result;
  }
}

/** The smallest lower-case ULID of a millisecond: ids of tokens created at or after it sort after it. */
function lowestIdAt(time: Date): string {
  return `${encodeTime(Math.max(0, time.getTime()), 10).toLowerCase()}${'0'.repeat(16)}`;
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
