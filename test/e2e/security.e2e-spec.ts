/**
 * The security model over HTTP: who may do what, with which credential, from where, and how
 * often. Basic authentication cases also live in tokens-api.e2e-spec.ts; this file covers
 * the attacks (forged, truncated, swapped and expired credentials), CORS and rate limits.
 *
 * The SDK harness accommodation (uncrypto) is the same as in trigger-sdk.e2e-spec.ts.
 */
import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { configure, wait } from '@trigger.dev/sdk';
import { withDatabase } from '../support/scheduler';
import { RunningSystem, TEST_KEYS, TEST_SIGNING_SECRETS, startSystem } from '../support/system';

jest.mock('../../node_modules/@trigger.dev/core/dist/commonjs/v3/utils/crypto.js', () => {
  const crypto = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return {
    randomUUID: async () => crypto.randomUUID(),
    digestSHA256: async (data: string) => crypto.createHash('sha256').update(data).digest('hex'),
  };
});

const TOKENS = '/api/v1/waitpoints/tokens';
const ORIGIN = 'https://app.example.com';

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

function client(system: () => RunningSystem) {
  const call = async (
    method: string,
    path: string,
    options: { auth?: string | null; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Reply> => {
    const url = path.startsWith('http') ? path : `${system().baseUrl}${path}`;
    const headers: Record<string, string> = { ...options.headers };
    const auth = options.auth === undefined ? TEST_KEYS.dev : options.auth;
    if (auth !== null) headers.authorization = `Bearer ${auth}`;
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(url, { method, headers, body: options.json === undefined ? undefined : JSON.stringify(options.json) });
    const text = await response.text();
    const body = text ? JSON.parse(text) : undefined;
    if (response.status >= 400) expect(body).toEqual({ error: expect.any(String) });
    return { status: response.status, headers: response.headers, body };
  };
  const create = async (auth: string = TEST_KEYS.dev) => {
    const reply = await call('POST', TOKENS, { json: { timeout: '1h' }, auth });
    expect(reply.status).toBe(200);
    return {
      id: reply.body.id as string,
      url: reply.body.url as string,
      publicAccessToken: reply.headers.get('x-trigger-jwt')!,
    };
  };
  const status = async (id: string, auth: string = TEST_KEYS.dev) => (await call('GET', `${TOKENS}/${id}`, { auth })).body.status;
  const complete = (id: string, auth: string | null, json: unknown = { data: 'x' }, headers?: Record<string, string>) =>
    call('POST', `${TOKENS}/${id}/complete`, { auth, json, headers });
  return { call, create, status, complete };
}

const internal = (id: string) => id.replace(/^waitpoint_/, '');
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const scopeFor = (id: string) => [`write:waitpoints:${id}`];

async function countEvents(system: RunningSystem): Promise<number> {
  return withDatabase(system.databaseUrl, async (db) => (await db.query('SELECT count(*)::int AS n FROM es_events')).rows[0].n);
}

// ---------------------------------------------------------------------------------------
// Credentials (rate limits off)
// ---------------------------------------------------------------------------------------

describe('credentials', () => {
  let system: RunningSystem;
  const { call, create, status, complete } = client(() => system);

  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  describe('callback URLs: the hash is the credential', () => {
    it('accept the exact URL, in upper- or lower-case hex', async () => {
      const token = await create();
      const [prefix, hash] = token.url.split('/callback/');
      expect((await call('POST', `${prefix}/callback/${hash.toUpperCase()}`, { auth: null, json: { ok: 1 } })).status).toBe(200);
      expect(await status(token.id)).toBe('COMPLETED');
    });

    it.each([
      ['a hash with its last character changed', (h: string) => `${h.slice(0, 63)}${h[63] === '0' ? '1' : '0'}`],
      ['a truncated hash', (h: string) => h.slice(0, 32)],
      ['a hash one character too long', (h: string) => `${h}0`],
      ['an all-zero hash', () => '0'.repeat(64)],
      ['a non-hex hash', () => 'g'.repeat(64)],
      [
        'a hash signed with another secret',
        (_h: string, id: string) => createHmac('sha256', 'attacker-secret-0123456789abcdef').update(id).digest('hex'),
      ],
      [
        'a hash over the friendly id instead of the internal one',
        (_h: string, id: string) => createHmac('sha256', TEST_SIGNING_SECRETS[0]).update(`waitpoint_${id}`).digest('hex'),
      ],
    ])('refuse %s with 401 and leave the token waiting', async (_label, forge) => {
      const token = await create();
      const [prefix, hash] = token.url.split('/callback/');
      const reply = await call('POST', `${prefix}/callback/${forge(hash, internal(token.id))}`, { auth: null, json: { forged: true } });
      expect(reply.status).toBe(401);
      expect(await status(token.id)).toBe('WAITING');
    });

    it("refuse another token's hash", async () => {
      const [token, other] = [await create(), await create()];
      const otherHash = other.url.split('/callback/')[1];
      expect((await call('POST', `${TOKENS}/${token.id}/callback/${otherHash}`, { auth: null, json: {} })).status).toBe(401);
      expect(await status(token.id)).toBe('WAITING');
    });

    it('stay valid after the signing secret is rotated (old secret kept second)', async () => {
      const token = await create();
      const previousHash = createHmac('sha256', TEST_SIGNING_SECRETS[1]).update(internal(token.id)).digest('hex');
      expect((await call('POST', `${TOKENS}/${token.id}/callback/${previousHash}`, { auth: null, json: {} })).status).toBe(200);
    });
  });

  describe('public access tokens (JWT) on complete', () => {
    it('answer 403 when used for another token, and the token stays waiting', async () => {
      const [token, other] = [await create(), await create()];
      const reply = await complete(token.id, other.publicAccessToken);
      expect(reply.status).toBe(403);
      expect(await status(token.id)).toBe('WAITING');
    });

    it('answer 401 once expired', async () => {
      const token = await create();
      const expired = jwt.sign({ pub: true, scopes: scopeFor(token.id), exp: Math.floor(Date.now() / 1000) - 5 }, TEST_SIGNING_SECRETS[0], {
        subject: 'dev',
        issuer: 'waitpoints',
      });
      const reply = await complete(token.id, expired);
      expect(reply.status).toBe(401);
      expect(reply.body.error).toMatch(/expired/);
      expect(await status(token.id)).toBe('WAITING');
    });

    it('answer 401 to alg: none, whatever the claims say', async () => {
      const token = await create();
      const claims = { sub: 'dev', pub: true, scopes: ['write:all', ...scopeFor(token.id)], exp: Math.floor(Date.now() / 1000) + 60 };
      for (const header of [{ alg: 'none', typ: 'JWT' }, { alg: 'None' }, { alg: 'NONE' }]) {
        for (const signature of ['', 'AAAA']) {
          const unsigned = `${base64url(header)}.${base64url(claims)}.${signature}`;
          expect((await complete(token.id, unsigned)).status).toBe(401);
        }
      }
      expect(await status(token.id)).toBe('WAITING');
    });

    it('answer 401 to a JWT signed with a wrong key or another HMAC algorithm', async () => {
      const token = await create();
      const claims = { pub: true, scopes: scopeFor(token.id) };
      const forged = [
        jwt.sign(claims, 'attacker-secret-0123456789abcdef', { subject: 'dev', expiresIn: 60 }),
        jwt.sign(claims, TEST_SIGNING_SECRETS[0], { subject: 'dev', expiresIn: 60, algorithm: 'HS512' }),
        jwt.sign(claims, TEST_SIGNING_SECRETS[0], { subject: 'dev', expiresIn: 60, algorithm: 'HS384' }),
        // The dev secret key may sign for dev only: claiming prod with it is a forgery.
        jwt.sign(claims, TEST_KEYS.dev, { subject: 'prod', expiresIn: 60 }),
      ];
      for (const token_ of forged) expect((await complete(token.id, token_)).status).toBe(401);
      // A correctly signed token with its signature stripped or altered.
      const good = token.publicAccessToken;
      const [h, p, s] = good.split('.');
      expect((await complete(token.id, `${h}.${p}.`)).status).toBe(401);
      expect((await complete(token.id, `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`)).status).toBe(401);
      // Claims changed under a valid signature (widened scope).
      expect((await complete(token.id, `${h}.${base64url({ ...(jwt.decode(good) as object), scopes: ['write:all'] })}.${s}`)).status).toBe(
        401,
      );
      expect(await status(token.id)).toBe('WAITING');
    });

    it('answer 401 to a JWT that is not a public token (no pub: true)', async () => {
      const token = await create();
      const notPublic = jwt.sign({ scopes: scopeFor(token.id) }, TEST_SIGNING_SECRETS[0], { subject: 'dev', expiresIn: 60 });
      expect((await complete(token.id, notPublic)).status).toBe(401);
    });
  });

  describe('API keys', () => {
    it('answer 401 when missing, empty, malformed or unknown, on every keyed route', async () => {
      const token = await create();
      const routes: [string, string, unknown][] = [
        ['POST', TOKENS, {}],
        ['GET', TOKENS, undefined],
        ['GET', `${TOKENS}/${token.id}`, undefined],
        ['POST', `${TOKENS}/${token.id}/complete`, { data: 1 }],
        ['POST', `${TOKENS}/${token.id}/cancel`, {}],
      ];
      const badHeaders: (Record<string, string> | undefined)[] = [
        undefined,
        { authorization: '' },
        { authorization: 'Bearer' },
        { authorization: 'Bearer ' },
        { authorization: `Bearer ${TEST_KEYS.dev} extra` },
        { authorization: `Token ${TEST_KEYS.dev}` },
        { authorization: `Bearer ${TEST_KEYS.dev.slice(0, -1)}` },
        { authorization: `Bearer ${TEST_KEYS.dev}x` },
        { authorization: `Bearer ${TEST_KEYS.dev.toUpperCase()}` },
        { authorization: "Bearer ' OR '1'='1" },
      ];
      for (const [method, path, json] of routes) {
        for (const headers of badHeaders) {
          const reply = await call(method, path, { auth: null, json, headers });
          expect({ method, path, headers, status: reply.status }).toEqual({ method, path, headers, status: 401 });
        }
      }
      expect(await status(token.id)).toBe('WAITING');
    });

    it("a key of another environment finds nothing: 404 on the other environment's token", async () => {
      const prodToken = await create(TEST_KEYS.prod);
      expect((await call('GET', `${TOKENS}/${prodToken.id}`)).status).toBe(404);
      expect((await complete(prodToken.id, TEST_KEYS.dev)).status).toBe(404);
      expect((await call('POST', `${TOKENS}/${prodToken.id}/cancel`, { json: {} })).status).toBe(404);
      expect(await status(prodToken.id, TEST_KEYS.prod)).toBe('WAITING');
    });
  });

  describe('CORS', () => {
    const preflight = (path: string, method = 'POST') =>
      fetch(`${system.baseUrl}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin: ORIGIN,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization,content-type',
        },
      });

    it('is spoken by complete (browsers complete with a public access token)', async () => {
      const token = await create();
      const response = await preflight(`${TOKENS}/${token.id}/complete`);
      expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      const completed = await complete(token.id, token.publicAccessToken, { data: 1 }, { origin: ORIGIN });
      expect(completed.status).toBe(200);
      expect(completed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      // A browser may read when to retry after a 429.
      expect(completed.headers.get('access-control-expose-headers')).toMatch(/x-ratelimit-reset/);
    });

    it("is spoken by a token's event stream (browsers watch with EventSource)", async () => {
      const token = await create();
      const response = await preflight(`${TOKENS}/${token.id}/events`, 'GET');
      expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    });

    it('is not spoken by create, list, retrieve, cancel or the callback URL, preflight or not', async () => {
      const token = await create();
      const callbackPath = new URL(token.url).pathname;
      for (const [path, method] of [
        [TOKENS, 'POST'],
        [TOKENS, 'GET'],
        [`${TOKENS}/${token.id}`, 'GET'],
        [`${TOKENS}/${token.id}/cancel`, 'POST'],
        [callbackPath, 'POST'],
      ]) {
        const response = await preflight(path, method);
        expect({ path, cors: response.headers.get('access-control-allow-origin') }).toEqual({ path, cors: null });
      }
      const calls = [
        await call('GET', `${TOKENS}/${token.id}`, { headers: { origin: ORIGIN } }),
        await call('POST', `${TOKENS}/${token.id}/cancel`, { json: {}, headers: { origin: ORIGIN } }),
        await call('POST', token.url, { auth: null, json: {}, headers: { origin: ORIGIN } }),
      ];
      for (const reply of calls) expect(reply.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
});

// ---------------------------------------------------------------------------------------
// Rate limits
// ---------------------------------------------------------------------------------------

describe('rate limits', () => {
  const WINDOW_MS = 3_000;
  const PER_KEY = 4;
  const PER_TOKEN = 2;
  let system: RunningSystem;
  const { call, create, complete } = client(() => system);

  beforeAll(async () => {
    system = await startSystem({
      env: { RATE_LIMIT: `${PER_KEY}/${WINDOW_MS / 1000}s`, CALLBACK_RATE_LIMIT: `${PER_TOKEN}/1m` },
    });
  });
  afterAll(async () => {
    await system?.stop();
  });

  /** Waits for a fresh window, so each test starts with the whole allowance. */
  const freshWindow = (reply: Reply) =>
    new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(reply.headers.get('x-ratelimit-reset')) - Date.now() + 20)));

  it('count requests per API key and answer 429 past the limit, with headers in the SDK units; nothing is stored', async () => {
    await freshWindow(await call('GET', TOKENS));
    const replies: Reply[] = [];
    for (let i = 0; i < PER_KEY; i++) replies.push(await call('POST', TOKENS, { json: { timeout: '1h' } }));
    expect(replies.map((r) => r.status)).toEqual(Array(PER_KEY).fill(200));
    expect(replies.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual(
      Array.from({ length: PER_KEY }, (_, i) => String(PER_KEY - 1 - i)),
    );
    expect(replies[0].headers.get('x-ratelimit-limit')).toBe(String(PER_KEY));

    const eventsBefore = await countEvents(system);
    const started = Date.now();
    const refused = await call('POST', TOKENS, { json: { timeout: '1h' } });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatch(/Rate limit exceeded/);
    expect(refused.headers.get('x-ratelimit-limit')).toBe(String(PER_KEY));
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    const reset = Number(refused.headers.get('x-ratelimit-reset'));
    // Milliseconds since the epoch, within the current window: what the SDK waits until.
    expect(reset).toBeGreaterThan(started);
    expect(reset).toBeLessThanOrEqual(Date.now() + WINDOW_MS);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await countEvents(system)).toBe(eventsBefore);

    // Reads are counted too; another key has its own allowance; bad keys are 401, not 429.
    expect((await call('GET', TOKENS)).status).toBe(429);
    expect((await call('GET', TOKENS, { auth: TEST_KEYS.prod })).status).toBe(200);
    expect((await call('GET', TOKENS, { auth: 'tr_dev_not_a_key_0000000000' })).status).toBe(401);

    await freshWindow(refused);
    expect((await call('GET', TOKENS)).status).toBe(200);
  });

  it('are honoured by the official SDK: it waits for x-ratelimit-reset and retries', async () => {
    configure({ baseURL: system.baseUrl, accessToken: TEST_KEYS.dev });
    await freshWindow(await call('GET', TOKENS));
    let last!: Reply;
    for (let i = 0; i < PER_KEY; i++) last = await call('GET', TOKENS);
    expect(last.headers.get('x-ratelimit-remaining')).toBe('0');
    const reset = Number(last.headers.get('x-ratelimit-reset'));

    const token = await wait.createToken({ timeout: '1h' });
    // The SDK's only successful attempt came after the window reset.
    expect(Date.now()).toBeGreaterThanOrEqual(reset);
    expect(token.id).toMatch(/^waitpoint_/);
  }, 30_000);

  it('count keyless completions per waitpoint token, only once the hash is verified', async () => {
    const [token, other] = [await create(TEST_KEYS.prod), await create(TEST_KEYS.prod)];
    const [prefix] = token.url.split('/callback/');
    for (let i = 0; i < 5; i++) {
      expect((await call('POST', `${prefix}/callback/${'0'.repeat(64)}`, { auth: null, json: {} })).status).toBe(401);
    }
    const replies = [];
    for (let i = 0; i < PER_TOKEN + 1; i++) replies.push(await call('POST', token.url, { auth: null, json: { i } }));
    expect(replies.map((r) => r.status)).toEqual([...Array(PER_TOKEN).fill(200), 429]);
    expect(replies[PER_TOKEN].headers.get('x-ratelimit-limit')).toBe(String(PER_TOKEN));
    // The first callback won; the refused one changed nothing.
    const retrieved = await call('GET', `${TOKENS}/${token.id}`, { auth: TEST_KEYS.prod });
    expect(retrieved.body.output).toBe('{"i":0}');
    // Other tokens are not affected.
    expect((await call('POST', other.url, { auth: null, json: {} })).status).toBe(200);
  });

  it('count public-access-token completions per waitpoint token as well', async () => {
    const token = await create(TEST_KEYS.prod);
    const statuses = [];
    for (let i = 0; i < PER_TOKEN + 1; i++) statuses.push((await complete(token.id, token.publicAccessToken, { data: i })).status);
    expect(statuses).toEqual([...Array(PER_TOKEN).fill(200), 429]);
  });
});
