import { MissingCredentialsError } from './errors';
import { fetchTransport, nodeTransport, OpenStream, SendRequest } from './transport';

export interface ClientOptions {
  /** Where the gateway listens, e.g. `http://localhost:3000`. */
  baseURL?: string;
  /** The environment's secret API key, or a token's public access token (complete and watch only). */
  secretKey?: string;
  /** Alias of `secretKey`, the name Trigger.dev's `configure()` uses. */
  accessToken?: string;
  /** Attempts for a request that failed with 5xx, 408, 429 or a network error (default 3). */
  maxAttempts?: number;
  /**
   * Most time a request's connection may stay silent before its answer is complete, in ms
   * (default 300000, as Node's `fetch`); then the attempt fails as a network error. Not for event
   * streams (they wait as long as the token does) nor for a `fetch` of your own.
   */
  requestTimeoutMs?: number;
  /**
   * Sends every request, event streams included, through this `fetch` (tests, proxies,
   * instrumentation). Without it the SDK uses node:http (see transport.ts).
   */
  fetch?: typeof fetch;
}

export interface ResolvedClientOptions {
  baseURL: string;
  secretKey: string;
  maxAttempts: number;
  requestTimeoutMs: number;
  /** Sends a request and reads its answer whole: node:http with a keep-alive pool, or the given `fetch`. */
  send: SendRequest;
  /** Opens an event stream: a connection of its own, or the given `fetch`. */
  openStream: OpenStream;
}

export const DEFAULT_BASE_URL = 'http://localhost:3000';
/** As long as Node's `fetch` (undici) waits for an answer by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

/**
 * Options given in code win; otherwise `WAITPOINTS_API_URL` / `WAITPOINTS_SECRET_KEY`, and
 * then Trigger.dev's `TRIGGER_API_URL` / `TRIGGER_SECRET_KEY`, so a project that already
 * points the official SDK at Waitpoints needs no new variables.
 */
export function resolveClientOptions(
  options: ClientOptions,
  env: Record<string, string | undefined> = typeof process === 'undefined' ? {} : process.env,
): ResolvedClientOptions {
  const baseURL = (options.baseURL ?? env.WAITPOINTS_API_URL ?? env.TRIGGER_API_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  const secretKey =
    options.secretKey ?? options.accessToken ?? env.WAITPOINTS_SECRET_KEY ?? env.TRIGGER_SECRET_KEY ?? env.TRIGGER_ACCESS_TOKEN;
  if (!secretKey) {
    throw new MissingCredentialsError(
      'No Waitpoints secret key: call configure({ baseURL, secretKey }) or set WAITPOINTS_SECRET_KEY (and WAITPOINTS_API_URL)',
    );
  }
  const maxAttempts = options.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError('maxAttempts must be a whole number of at least 1');
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs < 1) {
    throw new RangeError('requestTimeoutMs must be a whole number of milliseconds, at least 1');
  }
  return {
    baseURL,
    secretKey,
    maxAttempts,
    requestTimeoutMs,
    ...(options.fetch ? fetchTransport(options.fetch) : nodeTransport),
  };
}
