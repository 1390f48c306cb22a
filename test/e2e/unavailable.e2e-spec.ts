import { INestApplication } from '@nestjs/common';
import { createGateway } from '../../apps/gateway/src/app';
import { loadGatewayConfig } from '../../apps/gateway/src/config';
import { requireNats, uniqueRunName } from '../support/services';
import { TEST_KEYS, TEST_SIGNING_SECRETS } from '../support/system';

/** The gateway answers 503 with a clear message, promptly, whenever it cannot get an answer. */
describe('gateway without a token-service behind it', () => {
  const apps: INestApplication[] = [];

  async function gatewayWith(env: Record<string, string>): Promise<string> {
    process.env.LOG_LEVEL = 'silent';
    const app = await createGateway(
      loadGatewayConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        API_KEYS: `dev:${TEST_KEYS.dev}`,
        SIGNING_SECRETS: TEST_SIGNING_SECRETS.join(','),
        NATS_SUBJECT_PREFIX: uniqueRunName(),
        NATS_REQUEST_TIMEOUT_MS: '800',
        ...env,
      }),
    );
    apps.push(app);
    return `http://127.0.0.1:${app.getHttpServer().address().port}/api/v1/waitpoints/tokens`;
  }

  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  const create = (url: string) =>
    fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
      body: '{}',
    });

  it('answers 503 within its request timeout when no token-service listens on NATS', async () => {
    await requireNats();
    const url = await gatewayWith({});
    const started = Date.now();
    const response = await create(url);
    expect(response.status).toBe(503);
    // NATS reports "no responders" at once; a server that stays silent hits the 800 ms timeout.
    expect(((await response.json()) as { error: string }).error).toMatch(
      /No token-service instance is listening|did not answer within 800 ms/,
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('answers 503 promptly when NATS itself is unreachable, and starts anyway', async () => {
    const url = await gatewayWith({ NATS_URL: 'nats://127.0.0.1:1' });
    const started = Date.now();
    const response = await create(url);
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: string }).error).toMatch(/token service/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('still checks credentials and input before trying NATS', async () => {
    const url = await gatewayWith({ NATS_URL: 'nats://127.0.0.1:1' });
    expect((await fetch(url, { method: 'POST', body: '{}' })).status).toBe(401);
    const invalid = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEYS.dev}` },
      body: '{"timeout":"never"}',
    });
    expect(invalid.status).toBe(400);
  });
});
