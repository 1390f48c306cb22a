import { isAbsolute } from 'node:path';
import { DEFAULT_DATABASE_URL, DURATION_HINT, Env, EnvReader, NatsConfig, parseDuration, readNatsConfig } from '@waitpoints/contracts';
import { LogLevel, OpsEndpointConfig, readLogLevel, readOpsEndpoint } from '@waitpoints/platform';

/** Where /metrics, /health and /ready listen by default (the gateway has 3000, the scheduler 3002). */
export const DEFAULT_TOKEN_SERVICE_METRICS_PORT = 3001;

export interface TokenServiceConfig {
  databaseUrl: string;
  databasePoolSize: number;
  nats: NatsConfig;
  jetStreamReplicas: number;
  jetStreamDuplicateWindowMs: number;
  /** How long the event stream keeps messages (`JETSTREAM_MAX_AGE`, default 7d); 0 keeps them forever. */
  jetStreamMaxAgeMs: number;
  /** Most bytes the event stream keeps (`JETSTREAM_MAX_BYTES`); undefined: no limit. */
  jetStreamMaxBytes?: number;
  outboxPollIntervalMs: number;
  /** Poll when nothing was committed for a while (`OUTBOX_IDLE_POLL_INTERVAL_MS`): commits wake the relay anyway. */
  outboxIdlePollIntervalMs: number;
  /** Most time between two checkpoint writes (`OUTBOX_CHECKPOINT_INTERVAL_MS`); inside JetStream's duplicate window. */
  outboxCheckpointIntervalMs: number;
  outboxBatchSize: number;
  /** Least time between two outbox reads while commits keep coming (`OUTBOX_GATHER_MS`): see OutboxRelayOptions.gatherMs. */
  outboxGatherMs: number;
  /** HTTP listener for /metrics, /health, /ready (`METRICS_PORT`, `METRICS_HOST`). */
  ops: OpsEndpointConfig;
  /** `LOG_LEVEL`; unset means the process's LOG_LEVEL or info. */
  logLevel?: LogLevel;
  /** Concurrent creates/transitions written together: most per statement (0: one transaction each), statements at once. */
  commandBatchSize: number;
  commandBatchesInFlight: number;
  /** How long a request idempotency key answers retries (`REQUEST_KEY_RETENTION`); undefined keeps them forever. */
  requestKeyRetentionMs?: number;
  /**
   * Longest a read query (list, get, the dashboard's counts) may run (`READ_STATEMENT_TIMEOUT_MS`):
   * below the NATS request timeout the gateway waits (`NATS_REQUEST_TIMEOUT_MS`, which both read),
   * so a query that would outlast it is cancelled and answered with a clear 503 instead of a
   * gateway timeout. Default: 80 % of the NATS request timeout.
   */
  readStatementTimeoutMs: number;
  /** How long finished tokens stay in the hot tables (`TOKEN_RETENTION`), by environment. */
  tokenRetention: TokenRetentionPolicy;
  /** Where removed tokens' events are archived first (`ARCHIVE_DIR`); undefined: removed without a copy. */
  archiveDir?: string;
  /** Most tokens removed (and archived) per batch, each batch one short transaction (`RETENTION_BATCH_SIZE`). */
  retentionBatchSize: number;
  /** Time between two retention passes (`RETENTION_INTERVAL`); a pass loops at once while its batches are full. */
  retentionIntervalMs: number;
  /**
   * Most tokens a pass removes per second (`RETENTION_MAX_RATE`; 0: as fast as it can). Batches
   * are spaced to keep under it, so that a pass catching up on a large backlog shares the
   * database with live commands instead of taking it over.
   */
  retentionMaxRate: number;
}

/**
 * How long finished tokens are kept, per environment: `undefined` keeps them forever (`off`).
 * `defaultMs` applies to every environment without an override.
 */
export interface TokenRetentionPolicy {
  defaultMs: number | undefined;
  overrides: ReadonlyMap<string, number | undefined>;
}

/** The retention of one environment's finished tokens (undefined: kept forever). */
export const retentionOf = (policy: TokenRetentionPolicy, environment: string): number | undefined =>
  policy.overrides.has(environment) ? policy.overrides.get(environment) : policy.defaultMs;

/** The shortest retention of any environment (undefined when every one keeps its tokens forever). */
export const shortestRetentionMs = (policy: TokenRetentionPolicy): number | undefined => {
  const kept = [policy.defaultMs, ...policy.overrides.values()].filter((ms): ms is number => ms !== undefined);
  return kept.length === 0 ? undefined : Math.min(...kept);
};

/** True when no environment has its finished tokens removed. */
export const retentionIsOff = (policy: TokenRetentionPolicy): boolean => shortestRetentionMs(policy) === undefined;

export const DEFAULT_REQUEST_KEY_RETENTION = '24h';
const MIN_REQUEST_KEY_RETENTION_MS = 60_000;

function readRetention(read: EnvReader): number | undefined {
  const raw = read.string('REQUEST_KEY_RETENTION', DEFAULT_REQUEST_KEY_RETENTION).trim();
  if (['off', 'forever', 'none'].includes(raw.toLowerCase())) return undefined;
  const ms = parseDuration(raw);
  read.check(
    ms !== undefined && ms >= MIN_REQUEST_KEY_RETENTION_MS,
    `REQUEST_KEY_RETENTION="${raw}" must be a duration of at least 1m (${DURATION_HINT}), or off to keep the keys forever`,
  );
  return ms;
}

export const DEFAULT_TOKEN_RETENTION = '30d';
const MIN_TOKEN_RETENTION_MS = 60_000;
const ENVIRONMENT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * `TOKEN_RETENTION`: a bare value (the default for every environment) and `<environment>=<value>`
 * overrides, comma-separated, e.g. `30d,prod=90d,dev=1h`; a value is a duration of at least 1m
 * or `off`. Without a bare value the default is 30d.
 */
export function readTokenRetention(read: EnvReader): TokenRetentionPolicy {
  const raw = read.string('TOKEN_RETENTION', DEFAULT_TOKEN_RETENTION);
  const hint = `a duration of at least 1m (${DURATION_HINT}) or off, with optional <environment>=<value> overrides, e.g. 30d,prod=90d,dev=off`;
  const parse = (text: string, what: string): number | undefined => {
    if (text.toLowerCase() === 'off') return undefined;
    const ms = parseDuration(text);
    read.check(ms !== undefined && ms >= MIN_TOKEN_RETENTION_MS, `TOKEN_RETENTION ${what}"${text}" must be ${hint}`);
    return ms;
  };
  let defaultMs: number | undefined = parseDuration(DEFAULT_TOKEN_RETENTION);
  let sawDefault = false;
  const overrides = new Map<string, number | undefined>();
  for (const part of raw.split(',').map((p) => p.trim())) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      read.check(!sawDefault, `TOKEN_RETENTION="${raw}" has more than one default (a value without <environment>=)`);
      read.check(part !== '', `TOKEN_RETENTION="${raw}" has an empty entry: ${hint}`);
      if (part === '') continue;
      sawDefault = true;
      defaultMs = parse(part, '');
      continue;
    }
    const environment = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    read.check(ENVIRONMENT_NAME.test(environment), `TOKEN_RETENTION entry "${part}": "${environment}" is not an environment name`);
    read.check(!overrides.has(environment), `TOKEN_RETENTION names the environment "${environment}" twice`);
    overrides.set(environment, parse(value, `for ${environment}: `));
  }
  return { defaultMs, overrides };
}

function readArchiveDir(read: EnvReader): string | undefined {
  const dir = read.optional('ARCHIVE_DIR');
  read.check(dir === undefined || isAbsolute(dir), `ARCHIVE_DIR="${dir}" must be an absolute path`);
  return dir;
}

function readRetentionInterval(read: EnvReader): number {
  const raw = read.string('RETENTION_INTERVAL', '1m').trim();
  const ms = parseDuration(raw);
  read.check(
    ms !== undefined && ms >= 1_000 && ms <= 86_400_000,
    `RETENTION_INTERVAL="${raw}" must be a duration from 1s to 1d (${DURATION_HINT})`,
  );
  return ms ?? 60_000;
}

export const DEFAULT_JETSTREAM_MAX_AGE = '7d';
const UNLIMITED = ['off', 'unlimited', 'forever', 'none', '0'];

/** `JETSTREAM_MAX_AGE`: a duration, or off/0 for no limit (PostgreSQL keeps the history either way). */
function readStreamMaxAge(read: EnvReader): number {
  const raw = read.string('JETSTREAM_MAX_AGE', DEFAULT_JETSTREAM_MAX_AGE);
  if (UNLIMITED.includes(raw.toLowerCase())) return 0;
  const ms = parseDuration(raw);
  read.check(
    ms !== undefined && ms >= 1_000,
    `JETSTREAM_MAX_AGE="${raw}" must be a duration of at least 1s (${DURATION_HINT}), or off to keep messages forever`,
  );
  return ms ?? 0;
}

/** `JETSTREAM_MAX_BYTES`: a whole number of bytes (at least 1 MiB), or off/unset for no limit. */
function readStreamMaxBytes(read: EnvReader): number | undefined {
  const raw = read.optional('JETSTREAM_MAX_BYTES');
  if (raw === undefined || UNLIMITED.includes(raw.toLowerCase())) return undefined;
  return read.integer('JETSTREAM_MAX_BYTES', 0, 1_048_576, Number.MAX_SAFE_INTEGER);
}

export function loadTokenServiceConfig(env: Env = process.env): TokenServiceConfig {
  const read = new EnvReader(env);
  const config: TokenServiceConfig = {
    databaseUrl: read.url('DATABASE_URL', DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:']),
    databasePoolSize: read.integer('DATABASE_POOL_SIZE', 20, 2, 500),
    nats: readNatsConfig(read),
    jetStreamReplicas: read.integer('JETSTREAM_REPLICAS', 1, 1, 5),
    jetStreamDuplicateWindowMs: read.integer('JETSTREAM_DUPLICATE_WINDOW_MS', 120_000, 1_000, 86_400_000),
    jetStreamMaxAgeMs: readStreamMaxAge(read),
    jetStreamMaxBytes: readStreamMaxBytes(read),
    outboxPollIntervalMs: read.integer('OUTBOX_POLL_INTERVAL_MS', 50, 5, 60_000),
    outboxIdlePollIntervalMs: read.integer('OUTBOX_IDLE_POLL_INTERVAL_MS', 1_000, 5, 60_000),
    outboxCheckpointIntervalMs: read.integer('OUTBOX_CHECKPOINT_INTERVAL_MS', 500, 0, 60_000),
    outboxBatchSize: read.integer('OUTBOX_BATCH_SIZE', 500, 1, 10_000),
    outboxGatherMs: read.integer('OUTBOX_GATHER_MS', 20, 0, 1_000),
    ops: readOpsEndpoint(read, '', DEFAULT_TOKEN_SERVICE_METRICS_PORT),
    logLevel: readLogLevel(read),
    commandBatchSize: read.integer('COMMAND_BATCH_SIZE', 100, 0, 1000),
    commandBatchesInFlight: read.integer('COMMAND_BATCHES_IN_FLIGHT', 4, 1, 64),
    requestKeyRetentionMs: readRetention(read),
    readStatementTimeoutMs: 0,
    tokenRetention: readTokenRetention(read),
    archiveDir: readArchiveDir(read),
    retentionBatchSize: read.integer('RETENTION_BATCH_SIZE', 1_000, 1, 10_000),
    retentionIntervalMs: readRetentionInterval(read),
    retentionMaxRate: read.integer('RETENTION_MAX_RATE', 2_000, 0, 1_000_000),
  };
  const requestTimeoutMs = config.nats.requestTimeoutMs;
  config.readStatementTimeoutMs = read.integer('READ_STATEMENT_TIMEOUT_MS', Math.floor(requestTimeoutMs * 0.8), 1, 120_000);
  read.check(
    config.readStatementTimeoutMs < requestTimeoutMs,
    `READ_STATEMENT_TIMEOUT_MS=${config.readStatementTimeoutMs} must be below NATS_REQUEST_TIMEOUT_MS=${requestTimeoutMs}: ` +
      'a read the gateway has given up on should be cancelled before',
  );
  // JetStream refuses a stream whose duplicate window outlasts its messages.
  read.check(
    config.jetStreamMaxAgeMs === 0 || config.jetStreamDuplicateWindowMs <= config.jetStreamMaxAgeMs,
    `JETSTREAM_DUPLICATE_WINDOW_MS=${config.jetStreamDuplicateWindowMs} must not be longer than JETSTREAM_MAX_AGE ` +
      `(${config.jetStreamMaxAgeMs} ms): JetStream cannot recognise a repeat of a message it no longer keeps`,
  );
  read.done();
  return config;
}
