import { Logger } from '@nestjs/common';
import { TimerStore } from '../database/timer-store';

/**
 * Deletes of fired timers, batched: everything queued while one delete runs goes in the
 * next. A failed delete is retried; meanwhile the lease keeps the timer from firing again,
 * and if it does fire again the token-service answers "already finished".
 */
export class TimerDeletes {
  private readonly logger = new Logger(TimerDeletes.name);
  private queued: string[] = [];
  private running?: Promise<void>;

  constructor(
    private readonly store: TimerStore,
    private readonly maxBatch = 5_000,
  ) {}

  get backlog(): number {
    return this.queued.length;
  }

  add(tokenId: string): void {
    this.queued.push(tokenId);
    if (!this.running) this.running = this.drain();
  }

  /** Resolves when everything queued so far is deleted (or given up on at shutdown). */
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
        await this.store.delete(batch);
        failures = 0;
      } catch (error) {
        this.queued.unshift(...batch);
        if (++failures >= 5) {
          this.logger.error(`giving up deleting ${this.queued.length} fired timers for now: ${(error as Error).message}`);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * failures));
      }
    }
    this.running = undefined;
  }
}
