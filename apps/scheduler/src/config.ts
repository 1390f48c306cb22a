import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DEFAULT_DATABASE_URL, Env, EnvReader, NatsConfig, readNatsConfig } from '@waitpoints/contracts';
import { LogLevel, OpsEndpointConfig, readLogLevel, readOpsEndpoint } from '@waitpoints/platform';

/** Where /metrics, /health and /ready listen by default (gateway 3000, token-service 3001). */
export const DEFAULT_SCHEDULER_METRICS_PORT = 3002;

export interface SchedulerConfig {
  /** Same database as the token-service by default; the scheduler keeps to its own tables. */
  databaseUrl: string;
  databasePoolSize: number;
  nats: NatsConfig;
  /** Names this instance's leases; unique per process. */
  instanceId: string;
  /** Durable JetStream consumer the instances share to learn deadlines. */
  consumerName: string;
  /** Timers due within this window are leased into memory and fired by an in-process timer. */
  lookaheadMs: number;
  /** How often each instance looks for timers entering the window (new timers also nudge it). */
  pollIntervalMs: number;
  /** How long a lease lasts without renewal; another instance takes over a dead one's timers after it. */
  leaseMs: number;
  claimBatchSize: number;
  /** Most timers one instance holds in memory at once. */
  maxHeldTimers: number;
  /**
   * Timeouts per request to the token-service, and requests in flight. Timers that fall due
   * while every slot is busy ride in the next request, so load turns into bigger batches, not
   * more transactions; on 2 cores, 2 slots gave the best lateness in bench:timeouts (4 and 8 added CPU contention).
   */
  fireBatchSize: number;
  fireConcurrency: number;
  /** A timer overdue by more than this is catch-up work (after downtime), claimed at a bounded rate. */
  catchUpAfterMs: number;
  catchUpRatePerSecond: number;
  /** Events written per ingest transaction, and unacknowledged events JetStream may hand out. */
  ingestBatchSize: number;
  /**
   * How long a received event may wait for more before they are written together
   * (`SCHEDULER_INGEST_LINGER_MS`). At a steady trickle of completions this turns one
   * transaction per event into one per linger; deadlines are learned that much later.
   */
  ingestLingerMs: number;
  /**
   * The same while only events that end tokens wait (`SCHEDULER_INGEST_FORGET_LINGER_MS`):
   * forgetting a timer is never urgent (a timer that fires for a finished token is answered
   * "already finished"), so completions are written in fewer, larger transactions.
   */
  ingestForgetLingerMs: number;
  ingestMaxAckPending: number;
  /** HTTP listener for /metrics, /health, /ready (`SCHEDULER_METRICS_PORT`, `SCHEDULER_METRICS_HOST`). */
  ops: OpsEndpointConfig;
  /** `LOG_LEVEL`; unset means the process's LOG_LEVEL or info. */
  logLevel?: LogLevel;
}

export function defaultInstanceId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export function loadSchedulerConfig(env: Env = process.env): SchedulerConfig {
  const read = new EnvReader(env);
  const config: SchedulerConfig = {
    databaseUrl: read.url('DATABASE_URL', DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:']),
    databasePoolSize: read.integer('SCHEDULER_DATABASE_POOL_SIZE', 10, 2, 200),
    nats: readNatsConfig(read),
    instanceId: read.string('SCHEDULER_INSTANCE_ID', defaultInstanceId()),
    consumerName: read.string('SCHEDULER_CONSUMER_NAME', 'scheduler'),
    lookaheadMs: read.integer('SCHEDULER_LOOKAHEAD_MS', 10_000, 100, 600_000),
    pollIntervalMs: read.integer('SCHEDULER_POLL_INTERVAL_MS', 1_000, 10, 60_000),
    leaseMs: read.integer('SCHEDULER_LEASE_MS', 60_000, 500, 3_600_000),
    claimBatchSize: read.integer('SCHEDULER_CLAIM_BATCH_SIZE', 5_000, 1, 50_000),
    maxHeldTimers: read.integer('SCHEDULER_MAX_HELD_TIMERS', 100_000, 1, 5_000_000),
    // 2,000 per request drained a burst 1.6× faster than 500 (bench:timeouts); 5,000 stays well
    // under NATS's default 1 MB max_payload (about 100 bytes per timeout each way).
    fireBatchSize: read.integer('SCHEDULER_FIRE_BATCH_SIZE', 2_000, 1, 5_000),
    fireConcurrency: read.integer('SCHEDULER_FIRE_CONCURRENCY', 2, 1, 64),
    catchUpAfterMs: read.integer('SCHEDULER_CATCH_UP_AFTER_MS', 1_000, 0, 3_600_000),
    catchUpRatePerSecond: read.integer('SCHEDULER_CATCH_UP_RATE', 5_000, 1, 1_000_000),
    ingestBatchSize: read.integer('SCHEDULER_INGEST_BATCH_SIZE', 1_000, 1, 10_000),
    ingestLingerMs: read.integer('SCHEDULER_INGEST_LINGER_MS', 20, 0, 1_000),
    ingestForgetLingerMs: read.integer('SCHEDULER_INGEST_FORGET_LINGER_MS', 200, 0, 5_000),
    ingestMaxAckPending: read.integer('SCHEDULER_INGEST_MAX_ACK_PENDING', 20_000, 1, 1_000_000),
    ops: readOpsEndpoint(read, 'SCHEDULER_', DEFAULT_SCHEDULER_METRICS_PORT),
    logLevel: readLogLevel(read),
  };
  read.check(
    /^[A-Za-z0-9_-]+$/.test(config.consumerName),
    `SCHEDULER_CONSUMER_NAME="${config.consumerName}" must use only letters, digits, "_" or "-"`,
  );
  read.check(
    config.leaseMs > config.lookaheadMs + config.pollIntervalMs,
    `SCHEDULER_LEASE_MS (${config.leaseMs}) must be longer than SCHEDULER_LOOKAHEAD_MS + SCHEDULER_POLL_INTERVAL_MS ` +
      `(${config.lookaheadMs + config.pollIntervalMs}): a timer must stay leased until it is due`,
  );
  read.check(
    config.ingestMaxAckPending >= config.ingestBatchSize,
    `SCHEDULER_INGEST_MAX_ACK_PENDING (${config.ingestMaxAckPending}) must be at least SCHEDULER_INGEST_BATCH_SIZE (${config.ingestBatchSize})`,
  );
  read.done();
  return config;
}
