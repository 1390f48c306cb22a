import { ConfigError } from '@waitpoints/contracts';
import { DEV_API_KEY, loadGatewayConfig } from './config';

const secret = 's'.repeat(32);

describe('gateway configuration', () => {
  it('runs on documented defaults in development, with the dev key for environment "dev"', () => {
    const config = loadGatewayConfig({});
    expect(config.port).toBe(3000);
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.apiKeys.get(DEV_API_KEY)).toBe('dev');
    expect(config.usingDevKey).toBe(true);
    expect(config.nats.servers).toEqual(['nats://127.0.0.1:4222']);
  });

  it('reads several environments, each with one or more keys', () => {
    const config = loadGatewayConfig({
      API_KEYS: 'dev:dev-key-0123456789ab, prod:prod-key-0123456789a,prod:prod-key-rotated-01234',
      SIGNING_SECRETS: secret,
    });
    expect([...config.apiKeys.entries()]).toEqual([
      ['dev-key-0123456789ab', 'dev'],
      ['prod-key-0123456789a', 'prod'],
      ['prod-key-rotated-01234', 'prod'],
    ]);
    expect(config.usingDevKey).toBe(false);
  });

  it('refuses to start in production without keys and signing secrets, naming both', () => {
    expect(() => loadGatewayConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    try {
      loadGatewayConfig({ NODE_ENV: 'production' });
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        expect.stringContaining('API_KEYS is required'),
        expect.stringContaining('SIGNING_SECRETS is required'),
      ]);
    }
    expect(() =>
      loadGatewayConfig({ NODE_ENV: 'production', API_KEYS: 'prod:prod-key-0123456789a', SIGNING_SECRETS: secret }),
    ).not.toThrow();
  });

  it('refuses real API keys with the public development signing secret, in development too', () => {
    // The built-in secret is in the source: with it, anyone could forge callback URLs and public access tokens.
    expect(() => loadGatewayConfig({ API_KEYS: 'dev:dev-key-0123456789ab' })).toThrow(/SIGNING_SECRETS is required once API_KEYS is set/);
    expect(loadGatewayConfig({ API_KEYS: 'dev:dev-key-0123456789ab', SIGNING_SECRETS: secret }).signingSecrets).toEqual([secret]);
  });

  it('bounds the time to receive a request: 30 s, and 10 s for its headers, by default', () => {
    expect(loadGatewayConfig({})).toMatchObject({ httpRequestTimeoutMs: 30_000, httpHeadersTimeoutMs: 10_000 });
    // A shorter request timeout shortens the headers' default with it.
    expect(loadGatewayConfig({ HTTP_REQUEST_TIMEOUT_MS: '5000' })).toMatchObject({
      httpRequestTimeoutMs: 5000,
      httpHeadersTimeoutMs: 5000,
    });
    expect(() => loadGatewayConfig({ HTTP_REQUEST_TIMEOUT_MS: '5000', HTTP_HEADERS_TIMEOUT_MS: '6000' })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS \(6000\) must not exceed HTTP_REQUEST_TIMEOUT_MS \(5000\)/,
    );
    expect(() => loadGatewayConfig({ HTTP_REQUEST_TIMEOUT_MS: '0' })).toThrow(
      /HTTP_REQUEST_TIMEOUT_MS="0" must be a whole number from 1000/,
    );
  });

  it('lists every problem at once, with the variable and the fix', () => {
    try {
      loadGatewayConfig({
        PORT: 'eighty',
        API_KEYS: 'no-separator,bad env:key-0123456789abcdef,dev:short',
        NATS_URL: 'http://x',
        PUBLIC_URL: 'nope',
      });
      fail('expected a ConfigError');
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toContain('PORT="eighty" must be a whole number');
      expect(problems).toContain('must look like <environment>:<secret key>');
      expect(problems).toContain('environment "bad env" may only use');
      expect(problems).toContain('shorter than 16 characters');
      expect(problems).toContain('NATS_URL entry "http://x" must start with nats://');
      expect(problems).toContain('PUBLIC_URL="nope" is not a valid URL');
    }
  });

  it('limits requests per API key in production only, and keyless completions per token everywhere', () => {
    const development = loadGatewayConfig({});
    expect(development.rateLimit).toBeNull();
    expect(development.callbackRateLimit).toEqual({ requests: 60, windowMs: 60_000 });
    const production = loadGatewayConfig({ NODE_ENV: 'production', API_KEYS: 'prod:prod-key-0123456789a', SIGNING_SECRETS: secret });
    expect(production.rateLimit).toEqual({ requests: 3000, windowMs: 1000 });
    const tuned = loadGatewayConfig({ RATE_LIMIT: '100/1m', CALLBACK_RATE_LIMIT: 'off' });
    expect(tuned.rateLimit).toEqual({ requests: 100, windowMs: 60_000 });
    expect(tuned.callbackRateLimit).toBeNull();
    expect(() => loadGatewayConfig({ RATE_LIMIT: 'lots' })).toThrow(/RATE_LIMIT="lots" is not a rate limit/);
  });
});
