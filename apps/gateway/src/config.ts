import { Env, EnvReader, isSubjectToken, NatsConfig, readNatsConfig } from '@waitpoints/contracts';
import { LogLevel, readLogLevel } from '@waitpoints/platform';
import { RATE_LIMIT_HINT, RateLimit, parseRateLimit } from './http/rate-limits';

/** The documented development key, used only when API_KEYS is unset outside production. */
export const DEV_API_KEY = 'tr_dev_waitpoints_local_dev_key';
export const DEV_ENVIRONMENT = 'dev';
export const DEV_SIGNING_SECRET = 'waitpoints-dev-signing-secret-not-for-production';

export interface GatewayConfig {
  host: string;
  port: number;
  /** Origin put in callback URLs (what the outside world reaches the gateway at). */
  publicUrl: string;
  production: boolean;
  /** Secret key → environment. */
  apiKeys: Map<string, string>;
  usingDevKey: boolean;
  /** First secret signs callback URLs and public access tokens; the rest still verify. */
  signingSecrets: string[];
  nats: NatsConfig;
  /** `LOG_LEVEL`; unset means the process's LOG_LEVEL or info. */
  logLevel?: LogLevel;
  /** Interval of the comment line that keeps idle event streams open through proxies. */
  realtimeHeartbeatMs: number;
  /** Token-service requests arriving together go in one NATS message, at most this many (1: never). */
  natsRequestBatchSize: number;
  /** Replicas of the JetStream object-store buckets (same variable as the token-service). */
  jetStreamReplicas: number;
  /** Requests per API key and gateway instance; null = unlimited. */
  rateLimit: RateLimit | null;
  /** Completions without an API key (callback URLs, public access tokens) per waitpoint token; null = unlimited. */
  callbackRateLimit: RateLimit | null;
  /** A request (headers and body) must arrive within this long, or it is answered 408 and closed. */
  httpRequestTimeoutMs: number;
  /** Its headers must arrive within this long (at most `httpRequestTimeoutMs`). */
  httpHeadersTimeoutMs: number;
}

/** Production default: a bound per key that one busy client stays under, and a runaway loop does not. */
export const DEFAULT_PRODUCTION_RATE_LIMIT = '3000/1s';
/** A token is completed once; a sender retrying a few times stays far below this. */
export const DEFAULT_CALLBACK_RATE_LIMIT = '60/1m';
/**
 * Node's defaults (5 minutes for a request, 1 minute for its headers) let a client that sends a
 * byte a second hold a connection for minutes. A 3 MiB output still arrives in 30 s at 1 Mbit/s.
 */
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_HTTP_HEADERS_TIMEOUT_MS = 10_000;

const MIN_KEY_LENGTH = 16;

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const read = new EnvReader(env);
  const production = read.string('NODE_ENV', 'development') === 'production';
  const port = read.integer('PORT', 3000, 0, 65535);
  const host = read.string('HOST', '0.0.0.0');
  const publicUrl = read.url('PUBLIC_URL', `http://localhost:${port}`, ['http:', 'https:']).replace(/\/+$/, '');

  const apiKeys = new Map<string, string>();
  const rawKeys = read.optional('API_KEYS');
  if (rawKeys) {
    for (const entry of rawKeys
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const separator = entry.indexOf(':');
      const environment = entry.slice(0, separator).trim();
      const key = entry.slice(separator + 1).trim();
      if (separator <= 0 || !key) {
        read.problems.push(`API_KEYS entry "${entry.slice(0, 24)}…" must look like <environment>:<secret key>`);
        continue;
      }
      read.check(
        isSubjectToken(environment) && environment.length <= 64,
        `API_KEYS environment "${environment}" may only use letters, digits, "_" and "-" (at most 64)`,
      );
      read.check(key.length >= MIN_KEY_LENGTH, `API_KEYS key of environment "${environment}" is shorter than ${MIN_KEY_LENGTH} characters`);
      read.check(!apiKeys.has(key), `API_KEYS lists the same key twice (environment "${environment}")`);
      apiKeys.set(key, environment);
    }
  } else if (production) {
    read.problems.push('API_KEYS is required when NODE_ENV=production (e.g. API_KEYS=prod:<secret key>)');
  } else {
    apiKeys.set(DEV_API_KEY, DEV_ENVIRONMENT);
  }

  // The built-in signing secret is public (it is in this file), so it is only ever used together
  // with the public development key: once real keys are configured, a real secret must be too,
  // or anyone could compute callback hashes and sign public access tokens and dashboard sessions.
  const rawSecrets = read.optional('SIGNING_SECRETS');
  const usingDevKey = !rawKeys && !production;
  const signingSecrets = rawSecrets
    ? rawSecrets
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : usingDevKey
      ? [DEV_SIGNING_SECRET]
      : [];
  read.check(
    signingSecrets.length > 0,
    production
      ? 'SIGNING_SECRETS is required when NODE_ENV=production (signs callback URLs and public access tokens)'
      : 'SIGNING_SECRETS is required once API_KEYS is set: the built-in development signing secret is public, so anyone ' +
          'could forge callback URLs and public access tokens (generate one with: openssl rand -hex 32)',
  );
  for (const secret of signingSecrets) {
    read.check(secret.length >= 32, 'every SIGNING_SECRETS entry must be at least 32 characters');
  }

  const readRateLimit = (name: string, fallback: string): RateLimit | null => {
    const raw = read.string(name, fallback);
    const limit = parseRateLimit(raw);
    if (limit === undefined) {
      read.problems.push(`${name}="${raw}" is not a rate limit: ${RATE_LIMIT_HINT}`);
      return null;
    }
    return limit;
  };

  const httpRequestTimeoutMs = read.integer('HTTP_REQUEST_TIMEOUT_MS', DEFAULT_HTTP_REQUEST_TIMEOUT_MS, 1000, 3_600_000);
  const config: GatewayConfig = {
    host,
    port,
    publicUrl,
    production,
    apiKeys,
    usingDevKey,
    signingSecrets,
    nats: readNatsConfig(read),
    logLevel: readLogLevel(read),
    realtimeHeartbeatMs: read.integer('REALTIME_HEARTBEAT_MS', 15_000, 100, 300_000),
    natsRequestBatchSize: read.integer('NATS_REQUEST_BATCH_SIZE', 64, 1, 1000),
    jetStreamReplicas: read.integer('JETSTREAM_REPLICAS', 1, 1, 5),
    rateLimit: readRateLimit('RATE_LIMIT', production ? DEFAULT_PRODUCTION_RATE_LIMIT : 'off'),
    callbackRateLimit: readRateLimit('CALLBACK_RATE_LIMIT', DEFAULT_CALLBACK_RATE_LIMIT),
    httpRequestTimeoutMs,
    httpHeadersTimeoutMs: read.integer(
      'HTTP_HEADERS_TIMEOUT_MS',
      Math.min(DEFAULT_HTTP_HEADERS_TIMEOUT_MS, httpRequestTimeoutMs),
      1000,
      3_600_000,
    ),
  };
  read.check(
    config.httpHeadersTimeoutMs <= config.httpRequestTimeoutMs,
    `HTTP_HEADERS_TIMEOUT_MS (${config.httpHeadersTimeoutMs}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${config.httpRequestTimeoutMs})`,
  );
  read.done();
  return config;
}
