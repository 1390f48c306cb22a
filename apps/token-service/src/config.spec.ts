import { loadTokenServiceConfig } from './config';

/** READ_STATEMENT_TIMEOUT_MS: reads are cancelled before the gateway stops waiting for them. */
describe('the read statement timeout', () => {
  it('defaults to 80 % of the NATS request timeout', () => {
    expect(loadTokenServiceConfig({}).readStatementTimeoutMs).toBe(4_000);
    expect(loadTokenServiceConfig({ NATS_REQUEST_TIMEOUT_MS: '10000' }).readStatementTimeoutMs).toBe(8_000);
  });

  it('can be set below the NATS request timeout', () => {
    expect(loadTokenServiceConfig({ READ_STATEMENT_TIMEOUT_MS: '2500' }).readStatementTimeoutMs).toBe(2_500);
  });

  it('is refused at or above the NATS request timeout, saying why', () => {
    expect(() => loadTokenServiceConfig({ READ_STATEMENT_TIMEOUT_MS: '5000' })).toThrow(
      /READ_STATEMENT_TIMEOUT_MS=5000 must be below NATS_REQUEST_TIMEOUT_MS=5000/,
    );
  });
});

/** JETSTREAM_MAX_AGE, JETSTREAM_MAX_BYTES: the event stream is bounded; PostgreSQL keeps the history. */
describe('the event stream limits', () => {
  it('keep messages 7 days by default, with no byte limit', () => {
    const config = loadTokenServiceConfig({});
    expect(config.jetStreamMaxAgeMs).toBe(7 * 86_400_000);
    expect(config.jetStreamMaxBytes).toBeUndefined();
  });

  it('take a duration, or off / 0 for no age limit, and bytes for a size limit', () => {
    expect(loadTokenServiceConfig({ JETSTREAM_MAX_AGE: '36h' }).jetStreamMaxAgeMs).toBe(36 * 3_600_000);
    expect(loadTokenServiceConfig({ JETSTREAM_MAX_AGE: 'off' }).jetStreamMaxAgeMs).toBe(0);
    expect(loadTokenServiceConfig({ JETSTREAM_MAX_AGE: '0' }).jetStreamMaxAgeMs).toBe(0);
    expect(loadTokenServiceConfig({ JETSTREAM_MAX_BYTES: '10737418240' }).jetStreamMaxBytes).toBe(10_737_418_240);
    expect(loadTokenServiceConfig({ JETSTREAM_MAX_BYTES: 'off' }).jetStreamMaxBytes).toBeUndefined();
  });

  it('refuse what is not a duration or too small a size, saying what to write', () => {
    expect(() => loadTokenServiceConfig({ JETSTREAM_MAX_AGE: 'a week' })).toThrow(/JETSTREAM_MAX_AGE="a week" must be a duration/);
    expect(() => loadTokenServiceConfig({ JETSTREAM_MAX_BYTES: '1000' })).toThrow(/JETSTREAM_MAX_BYTES="1000" must be a whole number/);
  });

  it('refuse a duplicate window longer than the stream keeps messages', () => {
    expect(() => loadTokenServiceConfig({ JETSTREAM_MAX_AGE: '1m' })).toThrow(
      /JETSTREAM_DUPLICATE_WINDOW_MS=120000 must not be longer than JETSTREAM_MAX_AGE \(60000 ms\)/,
    );
    const config = loadTokenServiceConfig({ JETSTREAM_MAX_AGE: '2s', JETSTREAM_DUPLICATE_WINDOW_MS: '1000' });
    expect(config).toMatchObject({ jetStreamMaxAgeMs: 2_000, jetStreamDuplicateWindowMs: 1_000 });
  });
});
