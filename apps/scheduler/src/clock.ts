import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';

/** Injected so tests can move time (a 30-day timeout is tested without waiting 30 days). */
export interface Clock {
  now(): Date;
  /** Called before each claim: a clock that follows another one re-synchronises here. */
  sync?(): Promise<void>;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * The database's clock, read locally: `Date.now()` plus the offset to PostgreSQL's
 * `clock_timestamp()`, measured over the round trip with the smallest delay and refreshed
 * periodically. Every instance, whatever its host clock, then agrees on what is due, and
 * in-memory timers can be armed to the millisecond without a query per timer.
 */
export class DatabaseClock implements Clock {
  private readonly logger = new Logger(DatabaseClock.name);
  private offsetMs = 0;
  private syncedAt = -Infinity;

  constructor(
    private readonly db: DataSource,
    private readonly resyncEveryMs = 30_000,
  ) {}

  get offset(): number {
    return this.offsetMs;
  }

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  async sync(): Promise<void> {
    if (Date.now() - this.syncedAt < this.resyncEveryMs) return;
    let best = { roundTripMs: Infinity, offsetMs: 0 };
    for (let sample = 0; sample < 3; sample++) {
      const sentAt = Date.now();
      const rows: { ms: number }[] = await this.db.query(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`);
      const receivedAt = Date.now();
      const roundTripMs = receivedAt - sentAt;
      if (roundTripMs < best.roundTripMs) {
        best = { roundTripMs, offsetMs: Number(rows[0].ms) - (sentAt + receivedAt) / 2 };
      }
    }
    if (Math.abs(best.offsetMs - this.offsetMs) > 50 && this.syncedAt !== -Infinity) {
      this.logger.warn(`host clock moved ${Math.round(best.offsetMs - this.offsetMs)} ms against the database clock`);
    }
    this.offsetMs = best.offsetMs;
    this.syncedAt = Date.now();
  }
}
