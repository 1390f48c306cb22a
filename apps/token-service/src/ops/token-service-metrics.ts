import { Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Database } from '../database/database';
import type { RetentionMetrics } from '../retention/token-retention';
import { EventEnvelope, TokenCompleted, TokenCreated, TokenRejected, TokenTimedOut } from '@waitpoints/contracts';
import { createMetricsRegistry, natsHandlerDurations } from '@waitpoints/platform';

/** Created → finished, in seconds: from an instant API completion to a month-long wait. */
export const COMPLETION_LATENCY_BUCKETS = [
  0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 86400, 259200, 604800, 2592000,
];

/** What the scrape-time gauges read from (the database, the relay of this instance). */
export interface TokenServiceMetricSources {
  db: Database;
  outbox: { subscriberId: string; isLeader: boolean; published: number };
}

/** Scrape-time queries must not pile up behind a slow database. */
const SCRAPE_STATEMENT_TIMEOUT_MS = 2_000;

/**
 * The token-service's metrics. Counters count what this instance committed (sum them over
 * instances); the gauges read the shared database, so every instance reports the same value
 * (take the max, not the sum).
 */
export class TokenServiceMetrics implements RetentionMetrics {
  private readonly logger = new Logger(TokenServiceMetrics.name);
  readonly registry = createMetricsRegistry();

  readonly created = new Counter({
    name: 'waitpoints_tokens_created_total',
    help: 'Tokens created (TokenCreated events committed by this instance), by environment',
    labelNames: ['environment'] as const,
    registers: [this.registry],
  });

  readonly completed = new Counter({
    name: 'waitpoints_tokens_completed_total',
    help: 'Tokens completed, by environment and channel (api, public_token, callback, dashboard, approval_page)',
    labelNames: ['environment', 'channel'] as const,
    registers: [this.registry],
  });

  readonly timedOut = new Counter({
    name: 'waitpoints_tokens_timed_out_total',
    help: 'Tokens timed out, by environment and whether an operator forced it (forced="true") or the deadline passed',
    labelNames: ['environment', 'forced'] as const,
    registers: [this.registry],
  });

  readonly cancelled = new Counter({
    name: 'waitpoints_tokens_cancelled_total',
    help: 'Tokens cancelled, by environment',
    labelNames: ['environment'] as const,
    registers: [this.registry],
  });

  readonly rejected = new Counter({
    name: 'waitpoints_tokens_rejected_total',
    help: 'Tokens rejected, by environment and channel (api, public_token, dashboard)',
    labelNames: ['environment', 'channel'] as const,
    registers: [this.registry],
  });

  readonly deadlinesExtended = new Counter({
    name: 'waitpoints_token_deadlines_extended_total',
    help: 'Timeouts moved by an extension (TokenDeadlineExtended), by environment; heartbeats are not counted here',
    labelNames: ['environment'] as const,
    registers: [this.registry],
  });

  readonly completionLatency = new Histogram({
    name: 'waitpoints_token_completion_latency_seconds',
    help: "Time from a token's creation to its terminal event, by environment and final status (COMPLETED, TIMED_OUT, CANCELLED, REJECTED)",
    labelNames: ['environment', 'status'] as const,
    buckets: COMPLETION_LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly natsHandlers = natsHandlerDurations(this.registry);

  readonly retentionRemoved = new Counter({
    name: 'waitpoints_retention_tokens_removed_total',
    help: 'Finished tokens removed from the hot tables (events, row, keys) by retention passes of this instance, by environment',
    labelNames: ['environment'] as const,
    registers: [this.registry],
  });

  readonly retentionArchived = new Counter({
    name: 'waitpoints_retention_tokens_archived_total',
    help: 'Removed tokens whose events were written to ARCHIVE_DIR (and verified) first, by environment',
    labelNames: ['environment'] as const,
    registers: [this.registry],
  });

  readonly retentionArchiveFailures = new Counter({
    name: 'waitpoints_retention_archive_failures_total',
    help: 'Retention batches whose archive segment could not be written or verified (nothing of the batch was removed)',
    registers: [this.registry],
  });

  readonly retentionPassDuration = new Histogram({
    name: 'waitpoints_retention_pass_duration_seconds',
    help: 'Duration of the retention passes this instance ran (a pass removes batches until nothing is left)',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  constructor(sources: TokenServiceMetricSources) {
    // collect() runs with the gauge as `this`: it reads through a bound function.
    const scrapeQuery = this.scrapeQuery.bind(this);
    const seenEnvironments = new Set<string>();
    new Gauge({
      name: 'waitpoints_tokens_waiting',
      help: 'Tokens in WAITING now, by environment (read from waitpoint_tokens; every instance reports the same value)',
      labelNames: ['environment'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await scrapeQuery<{ environment: string; waiting: number }>(
          sources.db,
          `SELECT environment, count(*)::int AS waiting FROM waitpoint_tokens WHERE status = 'WAITING' GROUP BY environment`,
        );
        this.reset();
        if (!rows) return;
        for (const environment of seenEnvironments) this.set({ environment }, 0);
        for (const row of rows) {
          seenEnvironments.add(row.environment);
          this.set({ environment: row.environment }, row.waiting);
        }
      },
    });

    // One query feeds both outbox gauges when they are collected together.
    const readLag = sharedWhileInFlight(() =>
      this.scrapeQuery<{ unpublished: number; oldest_seconds: number }>(
        sources.db,
        `SELECT count(*)::int AS unpublished,
                COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(recorded_at)), 0)::float8 AS oldest_seconds
           FROM es_events
          WHERE (transaction_id, global_position) > (
            COALESCE((SELECT last_transaction_id FROM es_checkpoints WHERE subscriber_id = $1), '0'::xid8),
            COALESCE((SELECT last_global_position FROM es_checkpoints WHERE subscriber_id = $1), 0))`,
        [sources.outbox.subscriberId],
      ),
    );
    new Gauge({
      name: 'waitpoints_outbox_unpublished_events',
      help: 'Events stored in es_events but not yet published to JetStream (after the relay checkpoint)',
      registers: [this.registry],
      async collect() {
        const rows = await readLag();
        this.reset();
        if (rows?.[0]) this.set(rows[0].unpublished);
      },
    });
    new Gauge({
      name: 'waitpoints_outbox_oldest_unpublished_age_seconds',
      help: 'Age of the oldest event not yet published to JetStream (0 when none is waiting)',
      registers: [this.registry],
      async collect() {
        const rows = await readLag();
        this.reset();
        if (rows?.[0]) this.set(Math.max(0, rows[0].oldest_seconds));
      },
    });

    new Gauge({
      name: 'waitpoints_outbox_relay_active',
      help: '1 when this instance is the active outbox relay (one per database), else 0',
      registers: [this.registry],
      collect() {
        this.set(sources.outbox.isLeader ? 1 : 0);
      },
    });
    let reported = 0;
    new Counter({
      name: 'waitpoints_outbox_published_events_total',
      help: 'Events this instance published to JetStream as the active relay',
      registers: [this.registry],
      collect() {
        const published = sources.outbox.published;
        if (published > reported) this.inc(published - reported);
        reported = published;
      },
    });
  }

  /** Counts committed events; `createdAtOf` gives a finished token's creation time (by stream). */
  recordCommitted(
    stored: Pick<EventEnvelope, 'streamId' | 'type' | 'data'>[],
    createdAtOf: (streamId: string) => string | undefined,
  ): void {
    for (const envelope of stored) {
      const { environment } = envelope.data as { environment: string };
      let status: string;
      let finishedAt: string;
      switch (envelope.type) {
        case 'TokenCreated':
          this.created.inc({ environment: (envelope.data as TokenCreated['data']).environment });
          continue;
        case 'TokenCompleted': {
          const data = envelope.data as TokenCompleted['data'];
          this.completed.inc({ environment, channel: data.channel });
          [status, finishedAt] = ['COMPLETED', data.completedAt];
          break;
        }
        case 'TokenTimedOut': {
          const data = envelope.data as TokenTimedOut['data'];
          this.timedOut.inc({ environment, forced: String(data.forced) });
          [status, finishedAt] = ['TIMED_OUT', data.timedOutAt];
          break;
        }
        case 'TokenCancelled': {
          this.cancelled.inc({ environment });
          [status, finishedAt] = ['CANCELLED', (envelope.data as { cancelledAt: string }).cancelledAt];
          break;
        }
        case 'TokenRejected': {
          const data = envelope.data as TokenRejected['data'];
          this.rejected.inc({ environment, channel: data.channel });
          [status, finishedAt] = ['REJECTED', data.rejectedAt];
          break;
        }
        case 'TokenDeadlineExtended':
          this.deadlinesExtended.inc({ environment });
          continue;
        default:
          continue;
      }
      const createdAt = createdAtOf(envelope.streamId);
      if (createdAt !== undefined) {
        const seconds = (Date.parse(finishedAt) - Date.parse(createdAt)) / 1000;
        if (Number.isFinite(seconds) && seconds >= 0) this.completionLatency.observe({ environment, status }, seconds);
      }
    }
  }

  recordRetentionBatch(environment: string, removed: number, archived: number): void {
    if (removed > 0) this.retentionRemoved.inc({ environment }, removed);
    if (archived > 0) this.retentionArchived.inc({ environment }, archived);
  }

  recordArchiveFailure(): void {
    this.retentionArchiveFailures.inc();
  }

  recordRetentionPass(seconds: number): void {
    this.retentionPassDuration.observe(seconds);
  }

  /** A read for a gauge, bounded in time; on failure the gauge is left empty for this scrape. */
  private async scrapeQuery<T>(db: Database, sql: string, parameters: unknown[] = []): Promise<T[] | undefined> {
    try {
      return await db.transaction(async (m) => {
        await m.query(`SET LOCAL statement_timeout = ${SCRAPE_STATEMENT_TIMEOUT_MS}`);
        return m.query<T>(sql, parameters);
      });
    } catch (error) {
      this.logger.warn(`metrics query failed: ${(error as Error).message}`);
      return undefined;
    }
  }
}

/** Calls made while a read is in flight share its answer (the two outbox gauges of one scrape). */
function sharedWhileInFlight<T>(read: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => (inFlight ??= read().finally(() => (inFlight = undefined)));
}
