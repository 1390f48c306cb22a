import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Lateness buckets in seconds: milliseconds for on-time fires, up to hours for catch-up. */
export const LATENESS_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400,
];

/**
 * The scheduler's metrics, in a registry of its own (several instances can live in one
 * process, as in tests). The ops endpoint serves `registry.metrics()` as Prometheus text.
 */
export class SchedulerMetrics {
  readonly registry = new Registry();

  readonly scheduled = new Counter({
    name: 'waitpoints_scheduler_timers_scheduled_total',
    help: 'Timers added to the table (one per created token; redeliveries are not counted)',
    registers: [this.registry],
  });

  readonly fired = new Counter({
    name: 'waitpoints_scheduler_timers_fired_total',
    help: 'Timers fired and answered by the token-service, by outcome (timed_out, already_finished, token_not_found)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly cancelled = new Counter({
    name: 'waitpoints_scheduler_timers_cancelled_total',
    help: 'Timers deleted before firing because their token was completed or cancelled, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly fireFailures = new Counter({
    name: 'waitpoints_scheduler_fire_failures_total',
    help: 'Timeout requests that failed (token-service unreachable or erroring); retried with back-off',
    registers: [this.registry],
  });

  readonly notDueYet = new Counter({
    name: 'waitpoints_scheduler_fires_not_due_total',
    help: 'Timeouts the token-service found not yet due by its own clock (fired again shortly); a rising rate means the clocks disagree',
    registers: [this.registry],
  });

  readonly rearmed = new Counter({
    name: 'waitpoints_scheduler_timers_rearmed_total',
    help: 'Fired timers whose token answered a later deadline (a heartbeat or an extension moved it): re-armed there, not retried',
    registers: [this.registry],
  });

  readonly moved = new Counter({
    name: 'waitpoints_scheduler_timers_moved_total',
    help: 'Timers moved to the deadline of a TokenDeadlineExtended event',
    registers: [this.registry],
  });

  readonly lateness = new Histogram({
    name: 'waitpoints_scheduler_timer_lateness_seconds',
    help: 'Fired time minus deadline, by the database clock, for timers that timed their token out',
    buckets: LATENESS_BUCKETS,
    registers: [this.registry],
  });

  readonly pending: Gauge;
  readonly held: Gauge;

  constructor(sources: { countPending: () => Promise<number>; heldInMemory: () => number }) {
    this.pending = new Gauge({
      name: 'waitpoints_scheduler_timers_pending',
      help: 'Timers in the table (all instances): tokens waiting for their deadline (exact up to 10000, estimated from table statistics beyond)',
      registers: [this.registry],
      async collect() {
        this.set(await sources.countPending());
      },
    });
    this.held = new Gauge({
      name: 'waitpoints_scheduler_timers_held',
      help: 'Timers this instance has leased and holds in memory (due within the look-ahead window)',
      registers: [this.registry],
      collect() {
        this.set(sources.heldInMemory());
      },
    });
  }
}
