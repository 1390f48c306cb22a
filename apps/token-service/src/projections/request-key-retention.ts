import { Logger } from '@nestjs/common';
import type { Database, Sql } from '../database/database';

/**
 * Request idempotency keys (`x-trigger-request-idempotency-key`, one per create the SDKs send)
 * exist to answer a retry after a lost response, which comes within seconds. Kept forever they
 * would grow `waitpoint_request_keys` by one row per create; this removes the ones older than
 * the retention, in small batches so no delete holds many row locks or a long transaction.
 *
 * Every token-service instance prunes on its own schedule: deletes of the same old rows by two
 * instances are harmless (one finds them gone). A retry arriving after the retention creates a
 * new token, as a request without the header would.
 */
export class RequestKeyRetention {
  private readonly logger = new Logger(RequestKeyRetention.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    private readonly db: Database,
    private readonly options: { retentionMs: number; batchSize?: number },
  ) {}

  /** How often pruning runs: a quarter of the retention, at most every 10 minutes. */
  get intervalMs(): number {
    return Math.min(this.options.retentionMs / 4, 10 * 60_000);
  }

  start(): void {
    this.timer = setInterval(() => void this.pruneInBackground(), this.intervalMs);
    this.timer.unref();
    void this.pruneInBackground();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Deletes every key recorded more than the retention ago; returns how many. */
  async prune(): Promise<number> {
    const batchSize = this.options.batchSize ?? 5_000;
    let total = 0;
    for (;;) {
      const deleted = await pruneRequestKeys(this.db, this.options.retentionMs, batchSize);
      total += deleted;
      if (deleted < batchSize) return total;
    }
  }

  private async pruneInBackground(): Promise<void> {
    if (this.running) return;
    this.running = this.prune();
    try {
      const deleted = await this.running;
      if (deleted > 0) this.logger.log(`removed ${deleted} request idempotency keys older than ${this.options.retentionMs} ms`);
    } catch (error) {
      this.logger.warn(`pruning request idempotency keys failed, will try again: ${(error as Error).message}`);
    } finally {
      this.running = undefined;
    }
  }
}

/** One batch: at most `limit` keys older than the retention (the created_at index finds them). */
export async function pruneRequestKeys(sql: Sql, retentionMs: number, limit: number): Promise<number> {
  const [{ deleted }]: { deleted: number }[] = await sql.query(
    `WITH gone AS (
       DELETE FROM waitpoint_request_keys WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM waitpoint_request_keys
          WHERE created_at < now() - make_interval(secs => $1::float8 / 1000)
          LIMIT $2))
       RETURNING 1)
     SELECT count(*)::int AS deleted FROM gone`,
    [retentionMs, limit],
  );
  return deleted;
}

/** The oldest request key a consistent read table still holds: what verify compares from. */
export const requestKeysKeptSince = (snapshotAt: Date, retentionMs: number) => new Date(snapshotAt.getTime() - retentionMs);
