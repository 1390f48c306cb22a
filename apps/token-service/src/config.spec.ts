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
