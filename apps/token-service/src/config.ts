import { DEFAULT_DATABASE_URL, Env, EnvReader, NatsConfig, readNatsConfig } from '@waitpoints/contracts';
import { LogLevel, OpsEndpointConfig, readLogLevel, readOpsEndpoint } from '@waitpoints/platform';

/** Where /metrics, /health and /ready listen by default (the gateway has 3000, the scheduler 3002). */
export const DEFAULT_TOKEN_SERVICE_METRICS_PORT = 3001;

export interface TokenServiceConfig {
  databaseUrl: string;
  databasePoolSize: number;
  nats: NatsConfig;
  jetStreamReplicas: number;
  jetStreamDuplicateWindowMs: number;
  outboxPollIntervalMs: number;
  outboxBatchSize: number;
  /** HTTP listener for /metrics, /health, /ready (`METRICS_PORT`, `METRICS_HOST`). */
  ops: OpsEndpointConfig;
  /** `LOG_LEVEL`; unset means the process's LOG_LEVEL or info. */
  logLevel?: LogLevel;
  /** Concurrent creates/transitions written together: most per statement (0: one transaction each), statements at once. */
  commandBatchSize: number;
  commandBatchesInFlight: number;
}

export function loadTokenServiceConfig(env: Env = process.env): TokenServiceConfig {
  const read = new EnvReader(env);
  const config: TokenServiceConfig = {
    databaseUrl: read.url('DATABASE_URL', DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:']),
    databasePoolSize: read.integer('DATABASE_POOL_SIZE', 20, 2, 500),
    nats: readNatsConfig(read),
    jetStreamReplicas: read.integer('JETSTREAM_REPLICAS', 1, 1, 5),
    jetStreamDuplicateWindowMs: read.integer('JETSTREAM_DUPLICATE_WINDOW_MS', 120_000, 1_000, 86_400_000),
    outboxPollIntervalMs: read.integer('OUTBOX_POLL_INTERVAL_MS', 50, 5, 60_000),
    outboxBatchSize: read.integer('OUTBOX_BATCH_SIZE', 500, 1, 10_000),
    ops: readOpsEndpoint(read, '', DEFAULT_TOKEN_SERVICE_METRICS_PORT),
    logLevel: readLogLevel(read),
    commandBatchSize: read.integer('COMMAND_BATCH_SIZE', 100, 0, 1000),
    commandBatchesInFlight: read.integer('COMMAND_BATCHES_IN_FLIGHT', 4, 1, 64),
  };
  read.done();
  return config;
}
