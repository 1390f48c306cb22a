/**
 * The official Trigger.dev SDK (@trigger.dev/sdk, unchanged) against our server: the
 * promise of wire compatibility, checked with the client people actually use.
 *
 * One harness accommodation: the SDK's CommonJS build gets `randomUUID` (used for the
 * x-trigger-request-idempotency-key header) through a dynamic `import("uncrypto")`, which
 * Jest's module sandbox cannot run without --experimental-vm-modules. The mock below gives
 * it the same function from node:crypto; nothing on the wire changes. The last test runs
 * the SDK's ESM build in a plain Node process, with no mock at all.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { BadRequestError, NotFoundError, PermissionDeniedError, auth, configure, wait } from '@trigger.dev/sdk';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

jest.mock('../../node_modules/@trigger.dev/core/dist/commonjs/v3/utils/crypto.js', () => {
  const crypto = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return {
    randomUUID: async () => crypto.randomUUID(),
    digestSHA256: async (data: string) => crypto.createHash('sha256').update(data).digest('hex'),
  };
});

/** Env vars the SDK would otherwise read (base URL, key, preview branch): cleared for the run. */
const SDK_ENV_VARS = [
  'TRIGGER_API_URL',
  'TRIGGER_SECRET_KEY',
  'TRIGGER_ACCESS_TOKEN',
  'TRIGGER_PREVIEW_BRANCH',
  'TRIGGER_DEV_BRANCH',
  'VERCEL_GIT_COMMIT_REF',
];
const savedEnv: Record<string, string | undefined> = {};

let system: RunningSystem;

beforeAll(async () => {
  for (const name of SDK_ENV_VARS) {
    savedEnv[name] = process.env[name];
    delete process.env[name];
  }
  system = await startSystem();
  configure({ baseURL: system.baseUrl, accessToken: TEST_KEYS.dev });
});

afterAll(async () => {
  await system?.stop();
  for (const name of SDK_ENV_VARS) {
    if (savedEnv[name] !== undefined) process.env[name] = savedEnv[name];
  }
});

const uniqueTag = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

describe('the official Trigger.dev SDK', () => {
  it('wait.createToken returns id, url, isCached and a publicAccessToken', async () => {
    const idempotencyKey = `sdk-${randomUUID()}`;
    const token = await wait.createToken({ timeout: '1h', tags: ['sdk', 'create'], idempotencyKey });
    expect(token).toEqual({
      id: expect.stringMatching(/^waitpoint_[0-9a-z]{26}$/),
      url: expect.stringMatching(new RegExp(`^${system.baseUrl}/api/v1/waitpoints/tokens/waitpoint_[0-9a-z]{26}/callback/[0-9a-f]{64}$`)),
      isCached: false,
      publicAccessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
    });

    const again = await wait.createToken({ timeout: '1h', tags: ['sdk', 'create'], idempotencyKey });
    expect(again).toMatchObject({ id: token.id, url: token.url, isCached: true });
  });

  it('wait.createToken still works when the server answers an approvalUrl (an extra field the SDK ignores)', async () => {
    // The SDK cannot send `approval`; a token created with it over HTTP comes back to the SDK through its idempotency key.
    const idempotencyKey = `sdk-approval-${randomUUID()}`;
    const response = await fetch(`${system.tokensUrl}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
      body: JSON.stringify({ timeout: '1h', idempotencyKey, approval: { title: 'Ship it?' } }),
    });
    const created = (await response.json()) as { id: string; url: string; approvalUrl: string };
    expect(created.approvalUrl).toMatch(/\/approval\/[0-9a-f]{64}$/);

    const token = await wait.createToken({ timeout: '1h', idempotencyKey });
    expect(token).toMatchObject({ id: created.id, url: created.url, isCached: true, publicAccessToken: expect.any(String) });
    await wait.completeToken(token, { approved: true });
    expect(await wait.retrieveToken(token.id)).toMatchObject({ status: 'COMPLETED', output: { approved: true } });
  });

  it('wait.retrieveToken shows a new token as WAITING with its tags, timeout and idempotency key', async () => {
    const idempotencyKey = `sdk-${randomUUID()}`;
    const before = Date.now();
    const token = await wait.createToken({ timeout: '1h', tags: ['b-tag', 'a-tag'], idempotencyKey });
    const retrieved = await wait.retrieveToken(token.id);
    expect(retrieved).toMatchObject({ id: token.id, url: token.url, status: 'WAITING', tags: ['b-tag', 'a-tag'], idempotencyKey });
    expect(retrieved.output).toBeUndefined();
    expect(retrieved.error).toBeUndefined();
    expect(retrieved.completedAt).toBeUndefined();
    expect(retrieved.createdAt).toBeInstanceOf(Date);
    expect(retrieved.timeoutAt!.getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(retrieved.timeoutAt!.getTime()).toBeLessThan(before + 3_600_000 + 10_000);
    expect(retrieved.idempotencyKeyExpiresAt).toBeInstanceOf(Date);
  });

  it('wait.completeToken with the publicAccessToken completes it; retrieveToken decodes the output', async () => {
    const token = await wait.createToken({ timeout: '1h' });
    const output = { status: 'approved', comment: 'Looks good to me!', items: [1, 2, 3] };
    const result = await auth.withAuth({ accessToken: token.publicAccessToken, baseURL: system.baseUrl }, () =>
      wait.completeToken<typeof output>(token.id, output),
    );
    expect(result).toEqual({ success: true });

    const retrieved = await wait.retrieveToken<typeof output>(token.id);
    expect(retrieved.status).toBe('COMPLETED');
    expect(retrieved.output).toEqual(output);
    expect(retrieved.error).toBeUndefined();
    expect(retrieved.completedAt).toBeInstanceOf(Date);
  });

  it('wait.completeToken with the secret key works too, and a second completion keeps the first output', async () => {
    const token = await wait.createToken({});
    expect(await wait.completeToken(token, { first: true })).toEqual({ success: true });
    expect(await wait.completeToken(token.id, { second: true })).toEqual({ success: true });
    expect((await wait.retrieveToken(token)).output).toEqual({ first: true });
  });

  it('a publicAccessToken cannot complete another token (PermissionDeniedError, 403)', async () => {
    const [token, other] = [await wait.createToken({}), await wait.createToken({})];
    const attempt = auth.withAuth({ accessToken: other.publicAccessToken, baseURL: system.baseUrl }, () =>
      wait.completeToken(token.id, { sneaky: true }),
    );
    await expect(attempt).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(attempt).rejects.toMatchObject({ status: 403 });
    expect((await wait.retrieveToken(token.id)).status).toBe('WAITING');
  });

  it('for await over wait.listTokens({ limit: 2 }) pages through every matching token exactly once', async () => {
    const tag = uniqueTag('sdk-list');
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await wait.createToken({ tags: [tag] })).id);

    const seen: string[] = [];
    for await (const token of wait.listTokens({ limit: 2, tags: [tag] })) {
      expect(token.tags).toEqual([tag]);
      expect(token.status).toBe('WAITING');
      seen.push(token.id);
    }
    expect(seen).toEqual([...created].reverse());

    const firstPage = await wait.listTokens({ limit: 2, tags: tag });
    expect(firstPage.data).toHaveLength(2);
    expect(firstPage.hasNextPage()).toBe(true);
  });

  it('wait.listTokens filters by status, idempotencyKey and creation time', async () => {
    const tag = uniqueTag('sdk-filter');
    const idempotencyKey = `sdk-${randomUUID()}`;
    const from = new Date();
    const waiting = await wait.createToken({ tags: [tag], idempotencyKey });
    const done = await wait.createToken({ tags: [tag] });
    await wait.completeToken(done, { ok: true });

    const collect = async (params: Parameters<typeof wait.listTokens>[0]) => {
      const ids: string[] = [];
      for await (const token of wait.listTokens(params)) ids.push(token.id);
      return ids;
    };
    expect(await collect({ tags: [tag], status: 'COMPLETED' })).toEqual([done.id]);
    expect(await collect({ tags: [tag], status: ['WAITING', 'COMPLETED'] })).toEqual([done.id, waiting.id]);
    expect(await collect({ idempotencyKey })).toEqual([waiting.id]);
    expect(await collect({ tags: [tag], from, to: new Date(Date.now() + 1000), period: '1h' })).toEqual([done.id, waiting.id]);
    expect(await collect({ tags: [tag], to: from.getTime() - 1 })).toEqual([]);
  });

  it('a callback POST to token.url completes the token; retrieveToken shows the body as output', async () => {
    const token = await wait.createToken({ timeout: '10m' });
    const body = { event: 'payment.succeeded', amount: 4200 };
    const response = await fetch(token.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ success: true });

    const retrieved = await wait.retrieveToken<typeof body>(token.id);
    expect(retrieved.status).toBe('COMPLETED');
    expect(retrieved.output).toEqual(body);
  });

  it('wait.retrieveToken of an unknown id rejects at once with NotFoundError (no retry loop)', async () => {
    const started = Date.now();
    const attempt = wait.retrieveToken(`waitpoint_${'0'.repeat(26)}`);
    await expect(attempt).rejects.toBeInstanceOf(NotFoundError);
    await expect(attempt).rejects.toMatchObject({ status: 404 });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a cancelled token reads through the SDK as TIMED_OUT with an error that says it was cancelled', async () => {
    const tag = uniqueTag('sdk-cancel');
    const token = await wait.createToken({ timeout: '1h', tags: [tag] });
    const response = await fetch(`${system.tokensUrl}/${token.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'order withdrawn' }),
    });
    expect(response.status).toBe(200);

    const retrieved = await wait.retrieveToken(token.id);
    expect(retrieved.status).toBe('TIMED_OUT');
    expect(retrieved.output).toBeUndefined();
    expect(retrieved.error).toBeInstanceOf(Error);
    expect(retrieved.error!.name).toBe('WaitpointTimeoutError');
    expect(retrieved.error!.message).toMatch(/cancelled/);
    expect(retrieved.error!.message).toMatch(/order withdrawn/);

    const listed: string[] = [];
    for await (const item of wait.listTokens({ tags: [tag] })) listed.push(`${item.id} ${item.status}`);
    expect(listed).toEqual([`${token.id} TIMED_OUT`]);
  });

  it('a rejected token reads through the SDK as COMPLETED with outputIsError: retrieveToken returns the rejection as its error', async () => {
    const tag = uniqueTag('sdk-reject');
    const token = await wait.createToken({ timeout: '1h', tags: [tag] });
    // Rejected with the token's own publicAccessToken, as a browser would.
    const response = await fetch(`${system.tokensUrl}/${token.id}/reject`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.publicAccessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ error: { message: 'Refused by a moderator', code: 'MODERATION_REFUSED' } }),
    });
    expect(response.status).toBe(200);

    const retrieved = await wait.retrieveToken(token.id);
    expect(retrieved.status).toBe('COMPLETED');
    expect(retrieved.output).toBeUndefined();
    expect(retrieved.error).toBeInstanceOf(Error);
    expect(retrieved.error!.message).toBe('Refused by a moderator');

    // A completion afterwards changes nothing: the rejection was the first writer.
    await wait.completeToken(token.id, { approved: true });
    expect((await wait.retrieveToken(token.id)).error!.message).toBe('Refused by a moderator');

    const completed: string[] = [];
    for await (const item of wait.listTokens({ tags: [tag], status: 'COMPLETED' })) completed.push(`${item.id} ${item.status}`);
    expect(completed).toEqual([`${token.id} COMPLETED`]);
  });

  it('validation errors surface as BadRequestError with the server message (400, not retried)', async () => {
    const started = Date.now();
    const attempt = wait.createToken({ timeout: 'whenever' });
    await expect(attempt).rejects.toBeInstanceOf(BadRequestError);
    await expect(attempt).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/timeout/) });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('works the same from a plain Node process using the ESM build (no Jest, no mocks)', async () => {
    const tag = uniqueTag('sdk-esm');
    const script = `
      import { auth, configure, wait } from '@trigger.dev/sdk';
      const baseURL = process.env.WAITPOINTS_BASE_URL;
      configure({ baseURL, accessToken: process.env.WAITPOINTS_KEY });
      const tag = process.env.WAITPOINTS_TAG;
      const created = [];
      for (let i = 0; i < 3; i++) created.push(await wait.createToken({ timeout: '1h', tags: [tag] }));
      const [first] = created;
      await auth.withAuth({ accessToken: first.publicAccessToken, baseURL }, () => wait.completeToken(first.id, { via: 'esm' }));
      const retrieved = await wait.retrieveToken(first.id);
      const listed = [];
      for await (const token of wait.listTokens({ limit: 2, tags: [tag] })) listed.push(token.id);
      let notFound;
      try { await wait.retrieveToken('waitpoint_00000000000000000000000000'); } catch (error) { notFound = error.status; }
      console.log(JSON.stringify({
        created: created.map((t) => t.id),
        status: retrieved.status,
        output: retrieved.output,
        listed,
        notFound,
      }));
    `;
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    Object.assign(env, { WAITPOINTS_BASE_URL: system.baseUrl, WAITPOINTS_KEY: TEST_KEYS.dev, WAITPOINTS_TAG: tag });
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: `${__dirname}/../..`,
      env,
      timeout: 20_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(result).toEqual({
      created: [expect.stringMatching(/^waitpoint_/), expect.any(String), expect.any(String)],
      status: 'COMPLETED',
      output: { via: 'esm' },
      listed: [...result.created].reverse(),
      notFound: 404,
    });
  });
});
