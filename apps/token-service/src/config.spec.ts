import { loadTokenServiceConfig, retentionIsOff, retentionOf, shortestRetentionMs } from './config';

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

/** TOKEN_RETENTION: how long finished tokens stay in the hot tables, with per-environment overrides. */
describe('the token retention', () => {
  const retention = (value?: string) => loadTokenServiceConfig(value === undefined ? {} : { TOKEN_RETENTION: value }).tokenRetention;
  const DAY = 86_400_000;

  it('keeps finished tokens 30 days by default, in every environment', () => {
    expect(retention()).toEqual({ defaultMs: 30 * DAY, overrides: new Map() });
    expect(retentionOf(retention(), 'prod')).toBe(30 * DAY);
  });

  it('takes the first bare value as the default and <environment>=<value> as overrides', () => {
    const policy = retention('30d,prod=90d,dev=1h');
    expect(policy.defaultMs).toBe(30 * DAY);
    expect(retentionOf(policy, 'prod')).toBe(90 * DAY);
    expect(retentionOf(policy, 'dev')).toBe(3_600_000);
    expect(retentionOf(policy, 'staging')).toBe(30 * DAY);
  });

  it('keeps the 30-day default when only overrides are given', () => {
    expect(retentionOf(retention('dev=1h'), 'prod')).toBe(30 * DAY);
  });

  it('accepts off, for everything or for one environment', () => {
    expect(retentionIsOff(retention('off'))).toBe(true);
    const policy = retention('7d,prod=off');
    expect(retentionOf(policy, 'prod')).toBeUndefined();
    expect(retentionOf(policy, 'dev')).toBe(7 * DAY);
    expect(retentionIsOff(policy)).toBe(false);
    expect(retentionIsOff(retention('off,dev=1m'))).toBe(false);
  });

  it('accepts one minute, the shortest retention', () => {
    expect(retention('1m').defaultMs).toBe(60_000);
    expect(shortestRetentionMs(retention('30d,dev=1m,prod=off'))).toBe(60_000);
  });

  it.each([
    ['59s', /TOKEN_RETENTION "59s" must be a duration of at least 1m/],
    ['dev=30s', /TOKEN_RETENTION for dev: "30s" must be a duration of at least 1m/],
    ['forever', /TOKEN_RETENTION "forever" must be a duration of at least 1m .* or off/],
    ['30d,7d', /more than one default/],
    ['30d,dev=1h,dev=2h', /names the environment "dev" twice/],
    ['30d,=1h', /"" is not an environment name/],
    ['30d,,dev=1h', /has an empty entry/],
  ])('refuses %s at start, saying why', (value, message) => {
    expect(() => retention(value)).toThrow(message);
  });

  it('reads the batch size, the interval and the archive directory, and refuses bad ones', () => {
    const config = loadTokenServiceConfig({
      RETENTION_BATCH_SIZE: '250',
      RETENTION_INTERVAL: '30s',
      ARCHIVE_DIR: '/var/lib/waitpoints/archive',
    });
    expect(config).toMatchObject({ retentionBatchSize: 250, retentionIntervalMs: 30_000, archiveDir: '/var/lib/waitpoints/archive' });
    expect(loadTokenServiceConfig({})).toMatchObject({ retentionBatchSize: 1_000, retentionIntervalMs: 60_000, archiveDir: undefined });
    expect(() => loadTokenServiceConfig({ ARCHIVE_DIR: 'archive' })).toThrow(/ARCHIVE_DIR="archive" must be an absolute path/);
    expect(() => loadTokenServiceConfig({ RETENTION_INTERVAL: 'soon' })).toThrow(/RETENTION_INTERVAL="soon"/);
    expect(() => loadTokenServiceConfig({ RETENTION_BATCH_SIZE: '0' })).toThrow(/RETENTION_BATCH_SIZE="0"/);
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
