import { Logger } from '@nestjs/common';

/**
 * Writes to the timer table that follow fired timers (deletes of the done ones, postponements
 * of the ones whose deadline moved), batched: everything queued while one write runs goes in
 * the next. A failed write is retried; meanwhile the lease keeps the timer from firing again,
 * and if it does fire again the token-service answers again (finished, or not due).
 */
export class TimerWrites<T> {
  private readonly logger = new Logger(TimerWrites.name);
  private queued: T[] = [];
  private running?: Promise<void>;

  constructor(
    /** What is written, for the log ("delete fired timers"). */
    private readonly what: string,
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxBatch = 5_000,
  ) {}

  get backlog(): number {
    return this.queued.length;
  }

  add(item: T): void {
    this.queued.push(item);
    if (!this.running) this.running = this.drain();
  }

  /** Resolves when everything queued so far is written (or given up on at shutdown). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    // Let the current burst of replies queue up first.
    await new Promise((resolve) => setImmediate(resolve));
    let failures = 0;
    while (this.queued.length > 0) {
      const batch = this.queued.splice(0, this.maxBatch);
      try {
        await this.write(batch);
        failures = 0;
      } catch (error) {
        this.queued.unshift(...batch);
        if (++failures >= 5) {
          this.logger.error(`giving up, for now, to ${this.what} (${this.queued.length} waiting): ${(error as Error).message}`);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * failures));
      }
    }
    this.running = undefined;
  }
}
