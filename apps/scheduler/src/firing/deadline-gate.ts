import { Logger } from '@nestjs/common';
import type { Clock } from '../clock';
import type { LeasedTimer, Postponement } from '../database/timer-store';
import type { SchedulerMetrics } from '../metrics';
import { retryDelayMs, timerDelay, verdictOn } from '../timer-rules';
import { MinHeap } from './min-heap';
import type { TimeoutSender } from './timeout-sender';

/** The table writes that follow a fired timer's answer (batched by the caller). */
export interface FiredTimerWrites {
  /** The token is finished: the timer is done. */
  delete(tokenId: string): void;
  /** The token's deadline moved later: re-arm the timer there (`keepLease`: this instance keeps holding it). */
  postpone(postponement: Postponement & { keepLease: boolean }): void;
}

export interface DeadlineGateOptions {
  fireBatchSize: number;
  fireConcurrency: number;
  /** A timer whose lease ends sooner than this is not fired: its lease may already be another's. */
  leaseSafetyMs: number;
  /** Retry delay when the token-service says the deadline has not come yet (its clock is behind). */
  notDueRetryMs: number;
}

interface HeldTimer {
  tokenId: string;
  environment: string;
  dueAtMs: number;
  leaseUntilMs: number;
  /** When to (re)try: the deadline at first, later after a back-off. */
  fireAtMs: number;
  attempts: number;
}

/**
 * The in-memory side of the scheduler: the timers this instance has leased, in a min-heap by
 * fire time, with ONE setTimeout armed on the earliest (a "timer gate"). When it rings, every
 * due timer is sent to the token-service in batches, oldest first, with a bounded number of
 * requests in flight; what is due while they are in flight rides in the next batch, so bursts
 * batch themselves and single timers go out alone, at once.
 *
 * Only leased timers due within the look-ahead window ever get here, so the armed delay is
 * short; it is still clamped to what setTimeout can hold.
 */
export class DeadlineGate {
  private readonly logger = new Logger(DeadlineGate.name);
  private readonly heap = new MinHeap<HeldTimer>((t) => t.fireAtMs);
  /** Every timer held, queued or in flight. A heap entry not in here (any more) is stale. */
  private readonly held = new Map<string, HeldTimer>();
  private readonly inFlight = new Set<HeldTimer>();
  private requestsInFlight = 0;
  private armed?: { timer: NodeJS.Timeout; fireAtMs: number };
  private running = true;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly options: DeadlineGateOptions,
    private readonly clock: Clock,
    private readonly sender: TimeoutSender,
    private readonly writes: FiredTimerWrites,
    private readonly metrics: SchedulerMetrics,
  ) {}

  /** Timers held by this instance (queued or in flight). */
  get size(): number {
    return this.held.size;
  }

  has(tokenId: string): boolean {
    return this.held.has(tokenId);
  }

  hold(timers: LeasedTimer[]): void {
    for (const timer of timers) {
      const current = this.held.get(timer.tokenId);
      if (current && current.dueAtMs !== timer.dueAt.getTime() && !this.inFlight.has(current)) {
        // Claimed again at another deadline (it moved while we held it): the new one counts.
        this.held.delete(timer.tokenId);
      } else if (current) {
        current.leaseUntilMs = Math.max(current.leaseUntilMs, timer.leaseUntil.getTime());
        continue;
      }
      const entry: HeldTimer = {
        tokenId: timer.tokenId,
        environment: timer.environment,
        dueAtMs: timer.dueAt.getTime(),
        leaseUntilMs: timer.leaseUntil.getTime(),
        fireAtMs: timer.dueAt.getTime(),
        attempts: 0,
      };
      this.held.set(entry.tokenId, entry);
      this.heap.push(entry);
    }
    if (timers.length > 0) this.pump();
  }

  /** The token ended some other way: drop its timer unless it is already on its way. */
  forget(tokenId: string): void {
    const entry = this.held.get(tokenId);
    if (entry && !this.inFlight.has(entry)) this.held.delete(tokenId);
  }

  /** Held timers whose lease ends before `beforeMs` (to renew them). */
  leasesEndingBefore(beforeMs: number): string[] {
    const ids: string[] = [];
    for (const entry of this.held.values()) if (entry.leaseUntilMs < beforeMs) ids.push(entry.tokenId);
    return ids;
  }

  /** Records renewed leases; a timer asked about but not renewed is no longer ours to fire. */
  renewed(asked: string[], renewedIds: string[], leaseUntil: Date): void {
    const renewedSet = new Set(renewedIds);
    for (const tokenId of asked) {
      const entry = this.held.get(tokenId);
      if (!entry) continue;
      if (renewedSet.has(tokenId)) entry.leaseUntilMs = leaseUntil.getTime();
      else if (!this.inFlight.has(entry)) this.held.delete(tokenId);
    }
  }

  /** Timers held but not in flight: what a clean shutdown gives back. */
  idleTimerIds(): string[] {
    return [...this.held.values()].filter((t) => !this.inFlight.has(t)).map((t) => t.tokenId);
  }

  /**
   * Stops firing; resolves once no request is in flight, or after `maxWaitMs` (a request that
   * hangs must not hold the shutdown: its timers stay leased and are fired again elsewhere).
   * Held timers stay leased; release them separately.
   */
  async stop(maxWaitMs: number): Promise<void> {
    this.running = false;
    this.disarm();
    if (this.requestsInFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs))),
    ]);
    clearTimeout(timer);
  }

  /** Forgets everything held, as a crash would. */
  dropAll(): void {
    this.running = false;
    this.disarm();
    this.held.clear();
    this.heap.clear();
  }

  private pump(): void {
    if (!this.running) return;
    while (this.requestsInFlight < this.options.fireConcurrency) {
      const batch = this.takeDue(this.clock.now().getTime());
      if (batch.length === 0) break;
      this.requestsInFlight++;
      void this.fire(batch).finally(() => {
        this.requestsInFlight--;
        if (this.requestsInFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
        this.pump();
      });
    }
    this.arm();
  }

  /** Pops up to one batch of due timers, skipping stale entries and timers whose lease is running out. */
  private takeDue(nowMs: number): HeldTimer[] {
    const batch: HeldTimer[] = [];
    while (batch.length < this.options.fireBatchSize) {
      const head = this.heap.peek();
      if (!head || head.fireAtMs > nowMs) break;
      this.heap.pop();
      if (this.held.get(head.tokenId) !== head) continue;
      if (head.leaseUntilMs - nowMs < this.options.leaseSafetyMs) {
        // Not renewed in time (database trouble?): the timer may be another instance's by
        // now. Leave it to whoever claims it once the lease has run out.
        this.held.delete(head.tokenId);
        this.logger.warn(`lease on the timer of token ${head.tokenId} is running out; leaving it to the next claim`);
        continue;
      }
      batch.push(head);
    }
    return batch;
  }

  private async fire(batch: HeldTimer[]): Promise<void> {
    for (const timer of batch) this.inFlight.add(timer);
    const firedAtMs = this.clock.now().getTime();
    try {
      const replies = await this.sender.send(batch.map(({ tokenId, environment }) => ({ tokenId, environment })));
      batch.forEach((timer, index) => this.settle(timer, verdictOn(replies[index], timer.dueAtMs), firedAtMs));
    } catch (error) {
      this.metrics.fireFailures.inc();
      this.logger.warn(`could not deliver ${batch.length} timeouts, retrying: ${(error as Error).message}`);
      for (const timer of batch) this.retryLater(timer, retryDelayMs(++timer.attempts));
    } finally {
      for (const timer of batch) this.inFlight.delete(timer);
    }
  }

  private settle(timer: HeldTimer, verdict: ReturnType<typeof verdictOn>, firedAtMs: number): void {
    switch (verdict.kind) {
      case 'done':
        if (this.held.get(timer.tokenId) === timer) this.held.delete(timer.tokenId);
        this.writes.delete(timer.tokenId);
        this.metrics.fired.inc({ outcome: verdict.outcome });
        if (verdict.outcome === 'timed_out') this.metrics.lateness.observe((firedAtMs - timer.dueAtMs) / 1000);
        return;
      case 'not_due_yet':
        this.metrics.notDueYet.inc();
        this.retryLater(timer, this.options.notDueRetryMs);
        return;
      case 'moved':
        this.metrics.rearmed.inc();
        this.rearm(timer, verdict.dueAtMs);
        return;
      case 'failed':
        this.logger.warn(`timeout of token ${timer.tokenId} failed, retrying: ${verdict.reason}`);
        this.retryLater(timer, retryDelayMs(++timer.attempts));
        return;
    }
  }

  /**
   * The token's deadline moved later than the one this timer fired at. Within the lease, this
   * instance keeps the timer and fires it at the new deadline; beyond it, the timer goes back to
   * the table for whichever instance claims it then. Either way the table learns the deadline,
   * so a restart does not fire at the old one again.
   */
  private rearm(timer: HeldTimer, dueAtMs: number): void {
    if (this.held.get(timer.tokenId) !== timer) return; // claimed again meanwhile, at a newer deadline
    const keepLease = dueAtMs < timer.leaseUntilMs - this.options.leaseSafetyMs;
    this.writes.postpone({ tokenId: timer.tokenId, firedDueAt: new Date(timer.dueAtMs), dueAt: new Date(dueAtMs), keepLease });
    if (!keepLease) {
      this.held.delete(timer.tokenId);
      return;
    }
    timer.dueAtMs = dueAtMs;
    timer.attempts = 0;
    timer.fireAtMs = dueAtMs;
    this.heap.push(timer);
  }

  private retryLater(timer: HeldTimer, delayMs: number): void {
    if (this.held.get(timer.tokenId) !== timer) return;
    timer.fireAtMs = this.clock.now().getTime() + delayMs;
    this.heap.push(timer);
  }

  /** Arms the single timer on the earliest live entry (or nothing, when every slot is busy anyway). */
  private arm(): void {
    if (!this.running) return;
    let head = this.heap.peek();
    while (head && this.held.get(head.tokenId) !== head) {
      this.heap.pop();
      head = this.heap.peek();
    }
    if (!head || this.requestsInFlight >= this.options.fireConcurrency) {
      this.disarm();
      return;
    }
    if (this.armed?.fireAtMs === head.fireAtMs) return;
    this.disarm();
    const fireAtMs = head.fireAtMs;
    const timer = setTimeout(
      () => {
        this.armed = undefined;
        this.pump();
      },
      timerDelay(fireAtMs, this.clock.now().getTime()),
    );
    this.armed = { timer, fireAtMs };
  }

  private disarm(): void {
    if (this.armed) clearTimeout(this.armed.timer);
    this.armed = undefined;
  }
}
