import { Logger } from '@nestjs/common';
import { WakeableSleep } from '@waitpoints/platform';
import type { Clock } from '../clock';
import type { LeasedTimer, TimerStore } from '../database/timer-store';
import type { DeadlineGate } from './deadline-gate';

export interface ClaimLoopOptions {
  instanceId: string;
  lookaheadMs: number;
  pollIntervalMs: number;
  leaseMs: number;
  claimBatchSize: number;
  maxHeldTimers: number;
  catchUpAfterMs: number;
  catchUpRatePerSecond: number;
}

/** How often to look again while a backlog is being drained at the catch-up rate. */
const CATCH_UP_TICK_MS = 100;

/**
 * Moves timers from the table into the gate. Each round, in this order:
 *   1. renews the leases of held timers that are half-way through them;
 *   2. takes over timers whose lease ran out (their instance died mid-batch);
 *   3. claims on-time timers: due within the look-ahead window, or late by less than
 *      `catchUpAfterMs`; never throttled, so a backlog cannot starve new work;
 *   4. claims the backlog (overdue by more): oldest first, at most `catchUpRatePerSecond`.
 * It runs every poll interval, again at once while a full batch came back, every 100 ms while
 * a backlog drains, and whenever ingest schedules a timer that is due within the window.
 */
export class ClaimLoop {
  private readonly logger = new Logger(ClaimLoop.name);
  private running = false;
  private loop?: Promise<void>;
  private readonly pause = new WakeableSleep();
  private catchUpAllowance: number;
  private allowanceAtMs = Date.now();

  constructor(
    private readonly options: ClaimLoopOptions,
    private readonly store: TimerStore,
    private readonly gate: DeadlineGate,
    private readonly clock: Clock,
  ) {
    this.catchUpAllowance = this.burstSize;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.nudge();
    await this.loop;
  }

  /** A timer due soon was just scheduled: claim now instead of at the next poll. */
  nudge(): void {
    this.pause.wake();
  }

  private get burstSize(): number {
    return Math.max(1, Math.ceil((this.options.catchUpRatePerSecond * CATCH_UP_TICK_MS) / 1000));
  }

  private async run(): Promise<void> {
    while (this.running) {
      let next: number;
      try {
        next = await this.round();
      } catch (error) {
        if (!this.running) break;
        this.logger.error(`claiming timers failed, retrying in 1 s: ${(error as Error).message}`);
        next = 1_000;
      }
      if (next > 0) await this.pause.sleep(next);
    }
  }

  /** One round; returns how long to wait before the next one. */
  private async round(): Promise<number> {
    await this.clock.sync?.();
    const { instanceId: owner, claimBatchSize, leaseMs } = this.options;
    await this.renewLeases();

    const nowMs = this.clock.now().getTime();
    const leaseUntil = new Date(nowMs + leaseMs);
    let room = this.options.maxHeldTimers - this.gate.size;
    if (room <= 0) return Math.min(this.options.pollIntervalMs, CATCH_UP_TICK_MS);

    const claimed: LeasedTimer[] = [];
    const take = async (claim: (limit: number) => Promise<LeasedTimer[]>, limit: number) => {
      const timers = await claim(Math.min(limit, room));
      claimed.push(...timers);
      room -= timers.length;
      return timers.length;
    };

    const orphans = await take((limit) => this.store.claimExpired({ now: new Date(nowMs), limit, owner, leaseUntil }), claimBatchSize);
    const lateBoundary = new Date(nowMs - this.options.catchUpAfterMs);
    const onTime = await take(
      (limit) =>
        this.store.claimUnleased({ dueAfter: lateBoundary, dueBy: new Date(nowMs + this.options.lookaheadMs), limit, owner, leaseUntil }),
      claimBatchSize,
    );
    const allowance = Math.min(claimBatchSize, this.refillCatchUpAllowance(nowMs));
    const backlog = await take(
      (limit) => this.store.claimUnleased({ dueAfter: null, dueBy: lateBoundary, limit, owner, leaseUntil }),
      allowance,
    );
    this.catchUpAllowance -= backlog;
    this.gate.hold(claimed);

    if (orphans === claimBatchSize || onTime === claimBatchSize) return 0;
    if (backlog > 0 || allowance < 1) return Math.min(this.options.pollIntervalMs, CATCH_UP_TICK_MS);
    return this.options.pollIntervalMs;
  }

  /** Token bucket: the backlog may be claimed at `catchUpRatePerSecond`, in bursts of one tick's worth. */
  private refillCatchUpAllowance(nowMs: number): number {
    const elapsedMs = Math.max(0, nowMs - this.allowanceAtMs);
    this.allowanceAtMs = nowMs;
    this.catchUpAllowance = Math.min(this.burstSize, this.catchUpAllowance + (elapsedMs * this.options.catchUpRatePerSecond) / 1000);
    return Math.floor(this.catchUpAllowance);
  }

  private async renewLeases(): Promise<void> {
    const nowMs = this.clock.now().getTime();
    const ending = this.gate.leasesEndingBefore(nowMs + this.options.leaseMs / 2);
    if (ending.length === 0) return;
    const leaseUntil = new Date(nowMs + this.options.leaseMs);
    const renewed = await this.store.renew(this.options.instanceId, ending, leaseUntil);
    this.gate.renewed(ending, renewed, leaseUntil);
  }
}
