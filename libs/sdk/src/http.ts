import { ResolvedClientOptions } from './config';
import { ApiError, ConnectionError, apiErrorFor } from './errors';
import { HttpAnswer } from './transport';

export interface RequestOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  query?: Record<string, string | undefined>;
  signal?: AbortSignal;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export const isRetryableStatus = (status: number) => RETRYABLE_STATUS.has(status);

/** Exponential backoff with full jitter, capped (so a thousand clients do not retry in step). */
export function backoffMs(attempt: number, baseMs = 250, capMs = 5000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * JSON over HTTP to the gateway, retried on 5xx/408/429 and network errors. Retrying is safe
 * for every call the SDK makes: create sends a request idempotency key that stays the same
 * across attempts, completing and cancelling are idempotent on the server, reads are reads.
 */
export class HttpTransport {
  constructor(readonly options: ResolvedClientOptions) {}

  url(path: string, query?: Record<string, string | undefined>): string {
    const url = new URL(`${this.options.baseURL}${path}`);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    return url.toString();
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.options.secretKey}`, ...extra };
  }

  async request<T>(path: string, options: RequestOptions = {}): Promise<{ body: T; headers: HttpAnswer['headers'] }> {
    const method = options.method ?? 'GET';
    const headers = this.headers({ accept: 'application/json' });
    if (method === 'POST') {
      headers['content-type'] = 'application/json';
      headers['x-trigger-request-idempotency-key'] = globalThis.crypto.randomUUID();
    }
    const url = this.url(path, options.query);
    for (let attempt = 1; ; attempt++) {
      let response: HttpAnswer;
      try {
        response = await this.options.send(url, {
          method,
          headers,
          body: method === 'POST' ? JSON.stringify(options.body ?? {}) : undefined,
          signal: options.signal,
          timeoutMs: this.options.requestTimeoutMs,
        });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (attempt >= this.options.maxAttempts) {
          throw new ConnectionError(`Cannot reach Waitpoints at ${this.options.baseURL}: ${describe(error)}`, { cause: error });
        }
        await sleep(backoffMs(attempt), options.signal);
        continue;
      }
      if (response.ok) return { body: JSON.parse(await response.text()) as T, headers: response.headers };
      const error = await errorFromResponse(response);
      if (!isRetryableStatus(response.status) || attempt >= this.options.maxAttempts) throw error;
      await sleep(retryAfterMs(response) ?? backoffMs(attempt), options.signal);
    }
  }
}

export async function errorFromResponse(response: HttpAnswer): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  const location = response.status >= 300 && response.status < 400 ? response.headers.get('location') : null;
  if (location !== null) {
    // Redirects are not followed (a POST must not silently become a GET somewhere else).
    return apiErrorFor(response.status, `The gateway redirects to ${location}: set baseURL to where the API is served`);
  }
  let message = text || response.statusText || `HTTP ${response.status}`;
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // not JSON: keep the text
  }
  return apiErrorFor(response.status, message, response.headers.get('x-request-id') ?? undefined);
}

function retryAfterMs(response: HttpAnswer): number | undefined {
  const seconds = Number(response.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, 30_000) : undefined;
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
