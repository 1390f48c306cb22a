import { Logger } from '@nestjs/common';
import type { Clock } from './clock';
import type { SchedulerConfig } from './config';
import { TimerStore } from './database/timer-store';
import { ClaimLoop } from './firing/claim-loop';
import { DeadlineGate } from './firing/deadline-gate';
import type { TimeoutSender } from './firing/timeout-sender';
import { TimerWrites } from './firing/timer-writes';
import type { Postponement } from './database/timer-store';
import { DeadlineIngest } from './ingest/deadline-ingest';
import { SchedulerMetrics } from './metrics';

/**
 * One scheduler instance: ingest (JetStream → table), claim loop (table → memory), gate
 * (memory → token-service at the deadline). Any number of instances may run side by side.
 */
export class TimeoutScheduler {
  private readonly logger = new Logger(TimeoutScheduler.name);
  readonly metrics: SchedulerMetrics;
  readonly gate: DeadlineGate;
  readonly ingest: DeadlineIngest;
  private readonly claims: ClaimLoop;
  private readonly deletes: TimerWrites<string>;
  private readonly postponements: TimerWrites<Postponement & { keepLease: boolean }>;
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(
    private readonly config: SchedulerConfig,
    readonly store: TimerStore,
    private readonly clock: Clock,
    private readonly sender: TimeoutSender,
  ) {
    this.metrics = new SchedulerMetrics({
      countPending: () => store.countPending(),
      heldInMemory: () => this.gate.size,
    });
    this.deletes = new TimerWrites('delete fired timers', (tokenIds) => store.delete(tokenIds));
    this.postponements = new TimerWrites('re-arm timers whose deadline moved', async (postponements) => {
      await store.postpone(config.instanceId, postponements);
      // Given back to the table: claim at once if the new deadline is near.
      if (postponements.some((p) => !p.keepLease && this.dueWithinWindow(p.dueAt))) this.claims.nudge();
    });
    this.gate = new DeadlineGate(
      {
        fireBatchSize: config.fireBatchSize,
        fireConcurrency: config.fireConcurrency,
        leaseSafetyMs: Math.min(1_000, config.leaseMs / 4),
        notDueRetryMs: 25,
      },
      clock,
      sender,
      { delete: (tokenId) => this.deletes.add(tokenId), postpone: (postponement) => this.postponements.add(postponement) },
      this.metrics,
    );
    this.claims = new ClaimLoop(config, store, this.gate, clock);
    this.ingest = new DeadlineIngest(
      {
        servers: config.nats.servers,
        subjectPrefix: config.nats.subjectPrefix,
        consumerName: config.consumerName,
        batchSize: config.ingestBatchSize,
        lingerMs: config.ingestLingerMs,
        forgetLingerMs: config.ingestForgetLingerMs,
        maxAckPending: config.ingestMaxAckPending,
      },
      store,
      this.metrics,
      {
        scheduled: (timers) => {
          if (timers.some((t) => this.dueWithinWindow(t.dueAt))) this.claims.nudge();
        },
        // The old deadline held in this instance's memory must not fire: drop it; the claim loop
        // takes the timer again at its new deadline (its lease was dropped with the move).
        moved: (timers) => {
          this.metrics.moved.inc(timers.length);
          for (const { tokenId } of timers) this.gate.forget(tokenId);
          if (timers.some((t) => this.dueWithinWindow(t.dueAt))) this.claims.nudge();
        },
        forgotten: (tokenIds) => tokenIds.forEach((id) => this.gate.forget(id)),
      },
    );
  }

  private dueWithinWindow(dueAt: Date): boolean {
    return dueAt.getTime() <= this.clock.now().getTime() + this.config.lookaheadMs;
  }

  get instanceId(): string {
    return this.config.instanceId;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    await this.clock.sync?.();
    await this.ingest.start();
    this.claims.start();
    this.logger.log(
      `instance ${this.config.instanceId}: look-ahead ${this.config.lookaheadMs} ms, lease ${this.config.leaseMs} ms, ` +
        `catch-up ${this.config.catchUpRatePerSecond}/s`,
    );
  }

  /**
   * Graceful: stop learning and claiming, let in-flight timeouts finish, delete what fired,
   * and give the remaining leases back so another instance fires them without waiting.
   * With `graceful: false` it stops like a crash: held timers stay leased until the lease
   * runs out (how tests show that a dead instance loses nothing).
   */
  async stop({ graceful = true }: { graceful?: boolean } = {}): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    if (!graceful) {
      this.gate.dropAll();
      await Promise.all([this.claims.stop(), this.ingest.stop()]);
      return;
    }
    await Promise.all([this.claims.stop(), this.ingest.stop()]);
    await this.gate.stop(this.config.nats.requestTimeoutMs);
    await Promise.all([this.deletes.flush(), this.postponements.flush()]);
    const unfired = this.gate.idleTimerIds();
    await this.store
      .release(this.config.instanceId, unfired)
      .catch((error) => this.logger.warn(`could not release ${unfired.length} leases: ${(error as Error).message}`));
    this.gate.dropAll();
  }
}
