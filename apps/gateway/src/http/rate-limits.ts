import { createHash } from 'node:crypto';
import type { Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { parseDuration } from '@waitpoints/contracts';
import { ApiError } from './api-error';

/** At most `requests` per fixed window of `windowMs`. */
export interface RateLimit {
  requests: number;
  windowMs: number;
}

export const RATE_LIMIT_HINT = 'use "<requests>/<window>" such as "3000/1s" or "1500/1m", or "off"';

/** `"3000/1s"` → 3000 per second; `"500"` → 500 per second; `"off"` or `"0"` → no limit (null). */
export function parseRateLimit(text: string): RateLimit | null | undefined {
  const value = text.trim().toLowerCase();
  if (value === 'off' || value === '0') return null;
  const match = /^(\d{1,9})(?:\s*\/\s*(.+))?$/.exec(value);
  if (!match) return undefined;
  const requests = Number(match[1]);
  const windowMs = match[2] === undefined ? 1000 : parseDuration(match[2]);
  if (requests < 1 || windowMs === undefined || windowMs < 1 || windowMs > 86_400_000) return undefined;
  return { requests, windowMs };
}

export function describeRateLimit(limit: RateLimit | null): string {
  return limit ? `${limit.requests} requests per ${limit.windowMs / 1000} s` : 'off';
}

/**
 * Per-gateway-instance rate limits, in memory (fixed windows, rate-limiter-flexible):
 *   - requests made with a secret API key, counted per key;
 *   - completions without a key (callback URLs, public access tokens), counted per waitpoint
 *     token, and only once the hash or JWT was verified, so strangers cannot use up a
 *     token's allowance.
 * Every counted answer carries `x-ratelimit-limit`, `x-ratelimit-remaining` and
 * `x-ratelimit-reset` (ms since the epoch, the unit the Trigger.dev SDK waits on); a request
 * over the limit is answered 429 with `retry-after` as well.
 */
export class RateLimits {
  private readonly perApiKey?: Limiter;
  private readonly perToken?: Limiter;

  constructor(apiKeyLimit: RateLimit | null, tokenLimit: RateLimit | null) {
    if (apiKeyLimit) this.perApiKey = new Limiter(apiKeyLimit, 'API key');
    if (tokenLimit) this.perToken = new Limiter(tokenLimit, 'waitpoint token (callbacks and public access tokens)');
  }

  /** The key is hashed: the limiter's table holds no secrets. */
  admitApiKey(apiKey: string, response: Response): Promise<void> {
    return this.perApiKey?.admit(createHash('sha256').update(apiKey).digest('base64url'), response) ?? Promise.resolve();
  }

  admitTokenCompletion(internalTokenId: string, response: Response): Promise<void> {
    return this.perToken?.admit(internalTokenId, response) ?? Promise.resolve();
  }
}

class Limiter {
  private readonly limiter: RateLimiterMemory;

  constructor(
    private readonly limit: RateLimit,
    private readonly countedPer: string,
  ) {
    this.limiter = new RateLimiterMemory({ points: limit.requests, duration: limit.windowMs / 1000 });
  }

  async admit(key: string, response: Response): Promise<void> {
    let state: RateLimiterRes;
    let allowed = true;
    try {
      state = await this.limiter.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      state = rejection;
      allowed = false;
    }
    const waitMs = Math.max(0, state.msBeforeNext);
    const resetAt = Date.now() + waitMs;
    response.setHeader('x-ratelimit-limit', String(this.limit.requests));
    response.setHeader('x-ratelimit-remaining', String(state.remainingPoints));
    response.setHeader('x-ratelimit-reset', String(resetAt));
    if (allowed) return;
    response.setHeader('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))));
    throw new ApiError(
      429,
      `Rate limit exceeded: at most ${describeRateLimit(this.limit)} per ${this.countedPer}; ` +
        `retry after ${new Date(resetAt).toISOString()}`,
    );
  }
}
