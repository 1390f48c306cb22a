import { ConfigError, EnvReader } from '@waitpoints/contracts';
import { loadTokenServiceConfig } from '../../../../apps/token-service/src/config';
import { loadSchedulerConfig } from '../../../../apps/scheduler/src/config';
import { loadGatewayConfig } from '../../../../apps/gateway/src/config';
import { readOpsEndpoint, resolveLogLevel } from './settings';

describe('observability settings', () => {
  it("gives each service without an API its own metrics port by default, next to the gateway's 3000", () => {
    expect(loadTokenServiceConfig({}).ops).toEqual({ port: 3001, host: '0.0.0.0' });
    expect(loadSchedulerConfig({}).ops).toEqual({ port: 3002, host: '0.0.0.0' });
  });

  it('reads the port and host, accepts 0 (any free port), and turns the listener off with "off"', () => {
    expect(loadTokenServiceConfig({ METRICS_PORT: '9464', METRICS_HOST: '127.0.0.1' }).ops).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(loadTokenServiceConfig({ METRICS_PORT: '0' }).ops.port).toBe(0);
    expect(loadTokenServiceConfig({ METRICS_PORT: 'off' }).ops.port).toBeUndefined();
    expect(loadSchedulerConfig({ SCHEDULER_METRICS_PORT: 'OFF' }).ops.port).toBeUndefined();
    // The scheduler's variable is its own: one METRICS_PORT exported for `npm start` cannot make the two collide.
    expect(loadSchedulerConfig({ METRICS_PORT: '9999' }).ops.port).toBe(3002);
  });

  it('refuses a port that is not one, naming the variable', () => {
    expect(() => loadTokenServiceConfig({ METRICS_PORT: 'ninety' })).toThrow(ConfigError);
    expect(() => loadSchedulerConfig({ SCHEDULER_METRICS_PORT: '70000' })).toThrow(
      'SCHEDULER_METRICS_PORT="70000" must be a whole number from 0 to 65535',
    );
    const read = new EnvReader({ METRICS_PORT: '-1' });
    readOpsEndpoint(read, '', 3001);
    expect(read.problems).toEqual(['METRICS_PORT="-1" must be a whole number from 0 to 65535']);
  });

  it('validates LOG_LEVEL in every app and lists the accepted levels', () => {
    expect(loadGatewayConfig({ LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    expect(() => loadTokenServiceConfig({ LOG_LEVEL: 'verbose' })).toThrow(
      'LOG_LEVEL="verbose" must be one of trace, debug, info, warn, error, fatal, silent',
    );
  });

  it("logs at the configured level, else the process's LOG_LEVEL (how tests stay silent), else info", () => {
    expect(resolveLogLevel('warn', { LOG_LEVEL: 'silent' })).toBe('warn');
    expect(resolveLogLevel(undefined, { LOG_LEVEL: 'silent' })).toBe('silent');
    expect(resolveLogLevel(undefined, { LOG_LEVEL: 'nonsense' })).toBe('info');
    expect(resolveLogLevel(undefined, {})).toBe('info');
  });
});
