import { Client } from 'pg';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

/**
 * A read that runs too long is cancelled by PostgreSQL (READ_STATEMENT_TIMEOUT_MS, below the
 * gateway's NATS request timeout) and answered with a 503 that says what to do, not a gateway
 * timeout. The slow read is made by a lock: a session holds waitpoint_tokens exclusively, so
 * any SELECT of it waits until the statement timeout cancels it.
 */
describe('reads slower than the read statement timeout', () => {
  let system: RunningSystem;
  let locker: Client;

  beforeAll(async () => {
    system = await startSystem({ env: { READ_STATEMENT_TIMEOUT_MS: '300', NATS_REQUEST_TIMEOUT_MS: '5000' } });
    locker = new Client({ connectionString: system.databaseUrl });
    await locker.connect();
  });

  afterAll(async () => {
    await locker?.query('ROLLBACK').catch(() => undefined);
    await locker?.end();
    await system?.stop();
  });

  const get = (path: string) => fetch(`${system.tokensUrl}${path}`, { headers: { authorization: `Bearer ${TEST_KEYS.dev}` } });
  const createToken = () =>
    fetch(system.tokensUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
      body: JSON.stringify({ timeout: '1h' }),
    });

  async function whileTableLocked<T>(work: () => Promise<T>): Promise<T> {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE waitpoint_tokens IN ACCESS EXCLUSIVE MODE');
    try {
      return await work();
    } finally {
      await locker.query('ROLLBACK');
    }
  }

  it('answers a list with 503 "the query took too long; narrow the filters" after about the timeout', async () => {
    const { response, ms } = await whileTableLocked(async () => {
      const started = Date.now();
      const answer = await get('?filter[tags]=order:7');
      return { response: answer, ms: Date.now() - started };
    });

    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: string }).error).toMatch(/took too long.*narrow the filters/);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(3_000);
  });

  it('answers a retrieve the same way', async () => {
    const token = (await (await createToken()).json()) as { id: string };
    const response = await whileTableLocked(() => get(`/${token.id}`));

    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: string }).error).toMatch(/took too long/);
  });

  it('serves the same reads once the table is free again (the pool is not left broken)', async () => {
    const response = await get('?page[size]=5');
    expect(response.status).toBe(200);
  });

  it('does not bound writes: a create waits for the lock instead of being cancelled', async () => {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE waitpoint_tokens IN ACCESS EXCLUSIVE MODE');
    const pending = createToken();
    await new Promise((resolve) => setTimeout(resolve, 800));
    await locker.query('ROLLBACK');

    expect((await pending).status).toBe(200);
  });
});
