/**
 * @waitpoints/sdk: token operations against the started system (real HTTP, no mocks).
 * Waiting (forToken, forAny, forAll) is specified in sdk-wait.e2e-spec.ts.
 */
import { randomUUID } from 'node:crypto';
import {
  AuthenticationError,
  ConnectionError,
  MissingCredentialsError,
  NotFoundError,
  ValidationError,
  WaitpointCancelledError,
  WaitpointsClient,
  configure,
  wait,
} from '@waitpoints/sdk';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

let system: RunningSystem;
let client: WaitpointsClient;

beforeAll(async () => {
  system = await startSystem();
  client = new WaitpointsClient({ baseURL: system.baseUrl, secretKey: TEST_KEYS.dev });
});

afterAll(async () => {
  await system?.stop();
});

const uniqueTag = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

describe('the Waitpoints SDK', () => {
  it('wait.createToken returns id, url, isCached and a publicAccessToken, with the configured client', async () => {
    configure({ baseURL: system.baseUrl, secretKey: TEST_KEYS.dev });
    const token = await wait.createToken({ timeout: '1h', tags: ['sdk'] });
    expect(token).toEqual({
      id: expect.stringMatching(/^waitpoint_[0-9a-z]{26}$/),
      url: expect.stringContaining(`/api/v1/waitpoints/tokens/${token.id}/callback/`),
      isCached: false,
      publicAccessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
    });
  });

  it('reads WAITPOINTS_API_URL and WAITPOINTS_SECRET_KEY when not configured in code', async () => {
    const saved = { url: process.env.WAITPOINTS_API_URL, key: process.env.WAITPOINTS_SECRET_KEY };
    process.env.WAITPOINTS_API_URL = system.baseUrl;
    process.env.WAITPOINTS_SECRET_KEY = TEST_KEYS.dev;
    try {
      const fromEnv = new WaitpointsClient();
      expect(fromEnv.baseURL).toBe(system.baseUrl);
      expect((await fromEnv.createToken()).id).toMatch(/^waitpoint_/);
    } finally {
      process.env.WAITPOINTS_API_URL = saved.url;
      process.env.WAITPOINTS_SECRET_KEY = saved.key;
      if (saved.url === undefined) delete process.env.WAITPOINTS_API_URL;
      if (saved.key === undefined) delete process.env.WAITPOINTS_SECRET_KEY;
    }
  });

  it('creates a token with an approval page and gives its approvalUrl (only then)', async () => {
    const withPage = await client.createToken({ approval: { title: 'Publish the post?', commentRequired: true } });
    expect(withPage.approvalUrl).toMatch(new RegExp(`/api/v1/waitpoints/tokens/${withPage.id}/approval/[^/]+$`));
    const page = await fetch(withPage.approvalUrl!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Publish the post?');
    expect((await client.createToken()).approvalUrl).toBeUndefined();
  });

  it('returns the same token for the same idempotencyKey, with isCached: true', async () => {
    const idempotencyKey = `approve-${randomUUID()}`;
    const first = await client.createToken({ idempotencyKey, idempotencyKeyTTL: '1h' });
    const second = await client.createToken({ idempotencyKey });
    expect(second).toMatchObject({ id: first.id, isCached: true });
  });

  it('completes a token and retrieves its decoded output, with dates as Date objects', async () => {
    const token = await client.createToken({ timeout: '1h', tags: ['a', 'b'] });
    expect(await client.completeToken(token.id, { approved: true, comment: 'LGTM' })).toEqual({ success: true });
    const retrieved = await client.retrieveToken<{ approved: boolean; comment: string }>(token);
    expect(retrieved).toMatchObject({ id: token.id, url: token.url, status: 'COMPLETED', tags: ['a', 'b'] });
    expect(retrieved.output).toEqual({ approved: true, comment: 'LGTM' });
    expect(retrieved.createdAt).toBeInstanceOf(Date);
    expect(retrieved.completedAt).toBeInstanceOf(Date);
    expect(retrieved.timeoutAt!.getTime() - retrieved.createdAt.getTime()).toBeCloseTo(3_600_000, -3);
    expect(retrieved.error).toBeUndefined();
  });

  it("completes with the token's public access token alone", async () => {
    const token = await client.createToken();
    const browser = new WaitpointsClient({ baseURL: system.baseUrl, accessToken: token.publicAccessToken });
    await browser.completeToken(token.id, { from: 'browser' });
    expect((await client.retrieveToken(token.id)).output).toEqual({ from: 'browser' });
  });

  it('cancels a token; retrieve then carries a WaitpointCancelledError with the reason', async () => {
    const token = await client.createToken();
    expect(await client.cancelToken(token.id, { reason: 'post deleted' })).toEqual({ success: true, status: 'CANCELLED' });
    const retrieved = await client.retrieveToken(token.id);
    expect(retrieved.status).toBe('CANCELLED');
    expect(retrieved.output).toBeUndefined();
    expect(retrieved.error).toBeInstanceOf(WaitpointCancelledError);
    expect(retrieved.error!.message).toContain('post deleted');
  });

  it('lists tokens: await gives a page, for await walks every page', async () => {
    const tag = uniqueTag('list');
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await client.createToken({ tags: [tag] }));

    const page = await client.listTokens({ tags: tag, limit: 2 });
    expect(page.data.map((t) => t.id)).toEqual([created[4].id, created[3].id]);
    expect(page.hasNextPage()).toBe(true);
    const second = await page.getNextPage();
    expect(second.data.map((t) => t.id)).toEqual([created[2].id, created[1].id]);

    const all = [];
    for await (const token of client.listTokens({ tags: [tag], status: 'WAITING', limit: 2 })) all.push(token);
    expect(all.map((t) => t.id)).toEqual(created.map((t) => t.id).reverse());
    expect(all[0].createdAt).toBeInstanceOf(Date);
  });

  describe('errors are typed and carry the server message', () => {
    it('NotFoundError for an unknown token', async () => {
      const failure = client.retrieveToken('waitpoint_01jd0000000000000000000000');
      await expect(failure).rejects.toBeInstanceOf(NotFoundError);
      await expect(failure).rejects.toMatchObject({ status: 404, message: expect.stringContaining('not found') });
    });

    it('ValidationError for an invalid option', async () => {
      const failure = client.createToken({ timeout: 'tomorrow' });
      await expect(failure).rejects.toBeInstanceOf(ValidationError);
      await expect(failure).rejects.toMatchObject({ status: 400, message: expect.stringContaining('timeout "tomorrow"') });
    });

    it('AuthenticationError for an unknown key', async () => {
      const stranger = new WaitpointsClient({ baseURL: system.baseUrl, secretKey: 'tr_dev_not_a_real_key_000000' });
      await expect(stranger.createToken()).rejects.toBeInstanceOf(AuthenticationError);
    });

    it('MissingCredentialsError without a key, ConnectionError when nothing listens', async () => {
      const saved = ['WAITPOINTS_SECRET_KEY', 'TRIGGER_SECRET_KEY', 'TRIGGER_ACCESS_TOKEN'].map((n) => [n, process.env[n]] as const);
      saved.forEach(([n]) => delete process.env[n]);
      try {
        expect(() => new WaitpointsClient({ baseURL: system.baseUrl })).toThrow(MissingCredentialsError);
      } finally {
        saved.forEach(([n, v]) => v !== undefined && (process.env[n] = v));
      }
      const nowhere = new WaitpointsClient({ baseURL: 'http://127.0.0.1:9', secretKey: TEST_KEYS.dev, maxAttempts: 1 });
      await expect(nowhere.createToken()).rejects.toBeInstanceOf(ConnectionError);
    });
  });
});
