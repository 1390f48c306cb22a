import { ConfigError } from '@waitpoints/contracts';
import { loadSchedulerConfig } from './config';

describe('scheduler configuration', () => {
  it('has working defaults: the local database and NATS, a 10 s window, 60 s leases', () => {
    const config = loadSchedulerConfig({});
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/waitpoints');
    expect(config.nats.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(config.lookaheadMs).toBe(10_000);
    expect(config.leaseMs).toBe(60_000);
    expect(config.instanceId).toMatch(/-\d+-[0-9a-f]{6}$/);
  });

  it('refuses a lease that could run out before the timer it covers is due, naming the variables', () => {
    expect(() => loadSchedulerConfig({ SCHEDULER_LOOKAHEAD_MS: '30000', SCHEDULER_LEASE_MS: '20000' })).toThrow(
      /SCHEDULER_LEASE_MS \(20000\) must be longer than SCHEDULER_LOOKAHEAD_MS \+ SCHEDULER_POLL_INTERVAL_MS \(31000\)/,
    );
  });

  it('lists every problem at once', () => {
    try {
      loadSchedulerConfig({ SCHEDULER_CATCH_UP_RATE: '0', SCHEDULER_FIRE_BATCH_SIZE: 'many', DATABASE_URL: 'mysql://x' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        'DATABASE_URL="mysql://x" must use postgres: or postgresql:',
        'SCHEDULER_FIRE_BATCH_SIZE="many" must be a whole number from 1 to 5000',
        'SCHEDULER_CATCH_UP_RATE="0" must be a whole number from 1 to 1000000',
      ]);
    }
  });
});
