import type { Response } from 'express';
import { ApiError } from './api-error';
import { RateLimits, parseRateLimit } from './rate-limits';

/** Just enough of an Express response to read the headers back. */
function fakeResponse() {
  const headers: Record<string, string> = {};
  return { headers, response: { setHeader: (name: string, value: string) => (headers[name] = value) } as unknown as Response };
}

describe('RATE_LIMIT values', () => {
  it('read "<requests>/<window>", a bare number as per second, and "off"', () => {
    expect(parseRateLimit('3000/1s')).toEqual({ requests: 3000, windowMs: 1000 });
    expect(parseRateLimit('1500 / 1m')).toEqual({ requests: 1500, windowMs: 60_000 });
    expect(parseRateLimit('500')).toEqual({ requests: 500, windowMs: 1000 });
    expect(parseRateLimit('off')).toBeNull();
    expect(parseRateLimit('0')).toBeNull();
  });

  it('refuse anything else', () => {
    for (const bad of ['fast', '-5/1s', '10/', '10/forever', '10/0s', '1.5/1s', '10/2d']) {
      expect(parseRateLimit(bad)).toBeUndefined();
    }
  });
});

describe('rate limits', () => {
  it('admit up to the limit per API key, then answer 429 with the reset time in epoch milliseconds', async () => {
    const limits = new RateLimits({ requests: 2, windowMs: 60_000 }, null);
    const first = fakeResponse();
    await limits.admitApiKey('key-a', first.response);
    expect(first.headers).toEqual({
      'x-ratelimit-limit': '2',
      'x-ratelimit-remaining': '1',
      'x-ratelimit-reset': expect.stringMatching(/^\d{13}$/),
    });
    await limits.admitApiKey('key-a', fakeResponse().response);

    const refused = fakeResponse();
    const before = Date.now();
    const error = await limits.admitApiKey('key-a', refused.response).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).getStatus()).toBe(429);
    expect((error as ApiError).getResponse()).toEqual({
      error: expect.stringMatching(/^Rate limit exceeded: at most 2 requests per 60 s per API key/),
    });
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    const reset = Number(refused.headers['x-ratelimit-reset']);
    expect(reset).toBeGreaterThan(before + 55_000);
    expect(reset).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(refused.headers['retry-after']).toMatch(/^(59|60)$/);

    // Another key has its own allowance.
    await expect(limits.admitApiKey('key-b', fakeResponse().response)).resolves.toBeUndefined();
  });

  it('open a new window once the old one is over', async () => {
    const limits = new RateLimits({ requests: 1, windowMs: 100 }, null);
    await limits.admitApiKey('key', fakeResponse().response);
    await expect(limits.admitApiKey('key', fakeResponse().response)).rejects.toBeInstanceOf(ApiError);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await expect(limits.admitApiKey('key', fakeResponse().response)).resolves.toBeUndefined();
  });

  it('count keyless completions per waitpoint token', async () => {
    const limits = new RateLimits(null, { requests: 1, windowMs: 60_000 });
    await limits.admitTokenCompletion('token-1', fakeResponse().response);
    await expect(limits.admitTokenCompletion('token-1', fakeResponse().response)).rejects.toBeInstanceOf(ApiError);
    await expect(limits.admitTokenCompletion('token-2', fakeResponse().response)).resolves.toBeUndefined();
  });

  it('when off, admit everything and send no headers', async () => {
    const limits = new RateLimits(null, null);
    const { headers, response } = fakeResponse();
    for (let i = 0; i < 1000; i++) await limits.admitApiKey('key', response);
    expect(headers).toEqual({});
  });
});
