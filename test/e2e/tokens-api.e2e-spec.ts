/**
 * The waitpoint token REST API as a client sees it over HTTP: every route, every error,
 * idempotency, environments and completion races. The system (token-service + gateway)
 * runs in this process against real PostgreSQL and NATS; see test/support/system.ts.
 *
 * Every response that goes through `call()` is also checked for two wire invariants:
 * no `null` anywhere in a JSON body (the Trigger.dev SDK rejects null), and every error
 * body is exactly `{ "error": "<message>" }`.
 */
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { connect } from 'nats';
import { Client } from 'pg';
import { TEST_NATS_URL } from '../support/services';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const KiB = 1024;
const MiB = 1024 * KiB;
const TERMINAL_EVENTS = ['TokenCompleted', 'TokenTimedOut', 'TokenCancelled'];

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem();
});

afterAll(async () => {
  await system?.stop();
});

// ---------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------

interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

interface CallOptions {
  /** Bearer credential; `null` sends no Authorization header. Defaults to the dev secret key. */
  auth?: string | null;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent verbatim (takes precedence over `json`). */
  body?: string;
  headers?: Record<string, string>;
}

/** Every path where a JSON value holds `null`. */
function nullPaths(value: unknown, path = '$'): string[] {
  if (value === null) return [path];
  if (Array.isArray(value)) return value.flatMap((item, i) => nullPaths(item, `${path}[${i}]`));
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => nullPaths(v, `${path}.${k}`));
  }
  return [];
}

async function call<T = any>(method: string, pathOrUrl: string, options: CallOptions = {}): Promise<Reply<T>> {
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${system.baseUrl}${pathOrUrl}`;
  const headers: Record<string, string> = { ...options.headers };
  const auth = options.auth === undefined ? TEST_KEYS.dev : options.auth;
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  let body: string | undefined = options.body;
  if (body === undefined && options.json !== undefined) body = JSON.stringify(options.json);
  if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text.length > 0) {
    expect(response.headers.get('content-type') ?? '').toMatch(/^application\/json/);
    parsed = JSON.parse(text);
    expect(nullPaths(parsed)).toEqual([]);
  }
  if (response.status >= 400) {
    // All errors: a JSON object with exactly one string field, `error`.
    expect(parsed).toEqual({ error: expect.any(String) });
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

const TOKENS = '/api/v1/waitpoints/tokens';
const tokenPath = (id: string) => `${TOKENS}/${id}`;

function expectError(reply: Reply, status: number, message?: RegExp): void {
  expect({ status: reply.status, body: reply.body }).toEqual({ status, body: { error: expect.any(String) } });
  if (message) expect(reply.body.error).toMatch(message);
}

interface CreatedToken {
  id: string;
  isCached: boolean;
  url: string;
  /** The public access token from `x-trigger-jwt`. */
  publicAccessToken: string;
  headers: Headers;
}

async function createToken(body: Record<string, unknown> = {}, options: CallOptions = {}): Promise<CreatedToken> {
  const reply = await call('POST', TOKENS, { json: body, ...options });
  expect(reply.status).toBe(200);
  return { ...reply.body, publicAccessToken: reply.headers.get('x-trigger-jwt')!, headers: reply.headers };
}

async function retrieve(id: string, options: CallOptions = {}): Promise<Record<string, any>> {
  const reply = await call('GET', tokenPath(id), options);
  expect(reply.status).toBe(200);
  return reply.body;
}

async function list(query: Record<string, string>, options: CallOptions = {}): Promise<Reply> {
  return call('GET', `${TOKENS}?${new URLSearchParams(query)}`, options);
}

async function listIds(query: Record<string, string>, options: CallOptions = {}): Promise<string[]> {
  const reply = await list(query, options);
  expect(reply.status).toBe(200);
  return reply.body.data.map((item: { id: string }) => item.id);
}

const complete = (id: string, json: unknown, options: CallOptions = {}) => call('POST', `${tokenPath(id)}/complete`, { json, ...options });
const cancel = (id: string, json: unknown = {}, options: CallOptions = {}) => call('POST', `${tokenPath(id)}/cancel`, { json, ...options });

/** A tag no other test uses, so list assertions see only their own tokens. */
const uniqueTag = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
const internalId = (friendlyId: string) => friendlyId.replace(/^waitpoint_/, '');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withDatabase<T>(work: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: system.databaseUrl });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/** The NATS server's max_payload, as the services see it. */
async function natsMaxPayload(): Promise<number> {
  const nc = await connect({ servers: TEST_NATS_URL });
  try {
    return nc.info!.max_payload;
  } finally {
    await nc.close();
  }
}

/** Every stored event has been published to JetStream (the outbox checkpoint reached the end). */
async function expectOutboxCaughtUp(timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let state: { last: number; checkpoint: number } | undefined;
  while (Date.now() < deadline) {
    state = await withDatabase(async (db) => {
      const last = await db.query<{ n: number }>('SELECT coalesce(max(global_position), 0)::int AS n FROM es_events');
      const done = await db.query<{ n: number }>('SELECT coalesce(max(last_global_position), 0)::int AS n FROM es_checkpoints');
      return { last: last.rows[0].n, checkpoint: done.rows[0].n };
    });
    if (state.checkpoint === state.last) return;
    await sleep(50);
  }
  throw new Error(`the outbox did not publish every event within ${timeoutMs} ms: ${JSON.stringify(state)}`);
}

// ---------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------

describe('POST /api/v1/waitpoints/tokens (create)', () => {
  it('answers 200 with a waitpoint_ id, isCached false and a callback url', async () => {
    const reply = await call('POST', TOKENS, { json: {} });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ id: expect.stringMatching(/^waitpoint_[0-9a-z]{26}$/), isCached: false, url: expect.any(String) });
    expect(reply.body.url).toMatch(new RegExp(`^${system.baseUrl}/api/v1/waitpoints/tokens/${reply.body.id}/callback/[0-9a-f]{64}$`));
  });

  it('sends a public access token (x-trigger-jwt) scoped to writing this token, and its claims', async () => {
    const token = await createToken();
    const claims = jwt.decode(token.publicAccessToken, { json: true });
    expect(claims).toMatchObject({ sub: 'dev', pub: true, scopes: [`write:waitpoints:${token.id}`] });
    expect(claims!.exp! - claims!.iat!).toBe(24 * 3600);
    expect(JSON.parse(token.headers.get('x-trigger-jwt-claims')!)).toEqual({ sub: 'dev', pub: true });
  });

  it('is immediately retrievable, waiting, with a default timeout of 10 minutes', async () => {
    const before = Date.now();
    const token = await createToken();
    const after = Date.now();
    const retrieved = await retrieve(token.id);
    expect(retrieved).toMatchObject({ id: token.id, url: token.url, status: 'WAITING', tags: [] });
    const timeoutAt = Date.parse(retrieved.timeoutAt);
    expect(timeoutAt).toBeGreaterThanOrEqual(before + 10 * MINUTE);
    expect(timeoutAt).toBeLessThanOrEqual(after + 10 * MINUTE);
    const createdAt = Date.parse(retrieved.createdAt);
    expect(createdAt).toBeGreaterThanOrEqual(before);
    expect(createdAt).toBeLessThanOrEqual(after);
  });

  it('leaves out idempotency fields when no idempotencyKey is given', async () => {
    const retrieved = await retrieve((await createToken()).id);
    expect(retrieved).not.toHaveProperty('idempotencyKey');
    expect(retrieved).not.toHaveProperty('idempotencyKeyExpiresAt');
  });

  it('gives an idempotencyKey a default TTL of 1 hour', async () => {
    const key = `key-${randomUUID()}`;
    const before = Date.now();
    const token = await createToken({ idempotencyKey: key });
    const after = Date.now();
    const retrieved = await retrieve(token.id);
    expect(retrieved.idempotencyKey).toBe(key);
    const expiresAt = Date.parse(retrieved.idempotencyKeyExpiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + HOUR);
    expect(expiresAt).toBeLessThanOrEqual(after + HOUR);
  });

  it('honours an explicit timeout duration and idempotencyKeyTTL', async () => {
    const before = Date.now();
    const token = await createToken({ timeout: '1h30m', idempotencyKey: `key-${randomUUID()}`, idempotencyKeyTTL: '2d' });
    const after = Date.now();
    const retrieved = await retrieve(token.id);
    expect(Date.parse(retrieved.timeoutAt)).toBeGreaterThanOrEqual(before + 90 * MINUTE);
    expect(Date.parse(retrieved.timeoutAt)).toBeLessThanOrEqual(after + 90 * MINUTE);
    expect(Date.parse(retrieved.idempotencyKeyExpiresAt)).toBeGreaterThanOrEqual(before + 48 * HOUR);
    expect(Date.parse(retrieved.idempotencyKeyExpiresAt)).toBeLessThanOrEqual(after + 48 * HOUR);
  });

  it('accepts a future ISO date as timeout', async () => {
    const at = new Date(Date.now() + 3 * HOUR);
    at.setMilliseconds(0);
    const retrieved = await retrieve((await createToken({ timeout: at.toISOString() })).id);
    expect(retrieved.timeoutAt).toBe(at.toISOString());
  });

  it('accepts tags as a single string or as an array', async () => {
    const single = await retrieve((await createToken({ tags: 'customer:42' })).id);
    expect(single.tags).toEqual(['customer:42']);
    const many = await retrieve((await createToken({ tags: ['zeta', 'alpha', 'mid'] })).id);
    expect(many.tags).toEqual(['zeta', 'alpha', 'mid']);
  });

  it('accepts 10 tags of 128 characters and an idempotencyKey of 2048 characters', async () => {
    const tags = Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(128, 'x'));
    const idempotencyKey = randomUUID().padEnd(2048, 'k');
    const retrieved = await retrieve((await createToken({ tags, idempotencyKey })).id);
    expect(retrieved.tags).toEqual(tags);
    expect(retrieved.idempotencyKey).toBe(idempotencyKey);
  });

  describe('rejects invalid requests with 400 and a message naming the problem', () => {
    it.each([
      ['an invalid timeout duration', { timeout: 'soon' }, /timeout/],
      ['a zero timeout', { timeout: '0s' }, /timeout/],
      ['a timeout that is not a string', { timeout: 600 }, /timeout/],
      ['a timeout date in the past', { timeout: new Date(Date.now() - MINUTE).toISOString() }, /timeout.*past/],
      ['a bad idempotencyKeyTTL', { idempotencyKey: 'k', idempotencyKeyTTL: '1 year' }, /idempotencyKeyTTL/],
      ['11 tags', { tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, /tags.*10/],
      ['a tag of 129 characters', { tags: ['ok', 'x'.repeat(129)] }, /tag.*128/],
      ['tags that are not strings', { tags: [1, 2] }, /tags/],
      ['an idempotencyKey over 2048 characters', { idempotencyKey: 'k'.repeat(2049) }, /idempotencyKey.*2048/],
      ['an empty idempotencyKey', { idempotencyKey: '' }, /idempotencyKey/],
      ['an unknown field', { idempotencyKey: 'k', output: 'x' }, /unknown field "output"/],
      ['null for an optional field (optional means absent)', { tags: null }, /tags must be a string or an array of strings/],
      [
        'an unknown field with a long name, named by its first 100 characters',
        { ['f'.repeat(500)]: 1 },
        new RegExp(
          `^unknown field "${'f'.repeat(100)}"; accepted fields: idempotencyKey, idempotencyKeyTTL, timeout, tags, approval, heartbeatTimeout$`,
        ),
      ],
    ])('%s', async (_label, body, message) => {
      expectError(await call('POST', TOKENS, { json: body }), 400, message);
    });

    it('an empty body', async () => {
      expectError(await call('POST', TOKENS, { body: '' }), 400, /empty/i);
    });

    it('malformed JSON', async () => {
      expectError(await call('POST', TOKENS, { body: '{"tags": [' }), 400, /JSON/);
    });

    it('a JSON array body', async () => {
      expectError(await call('POST', TOKENS, { body: '[]' }), 400, /JSON object/);
    });

    it.each(['null', '"a string"', '42'])('the JSON value %s as body', async (body) => {
      expectError(await call('POST', TOKENS, { body }), 400, /JSON object/);
    });
  });

  it('rejects a body over 10 KiB with 413', async () => {
    const body = JSON.stringify({ tags: ['a'], idempotencyKey: 'k'.repeat(10 * KiB) });
    expectError(await call('POST', TOKENS, { body }), 413, /too large/);
  });
});

// ---------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------

describe('authentication', () => {
  let token: CreatedToken;
  beforeAll(async () => {
    token = await createToken();
  });

  const secretKeyRoutes = (): [string, string, unknown][] => [
    ['create', TOKENS, {}],
    ['list', TOKENS, undefined],
    ['retrieve', tokenPath(token.id), undefined],
    ['complete', `${tokenPath(token.id)}/complete`, {}],
    ['cancel', `${tokenPath(token.id)}/cancel`, {}],
  ];

  it('answers 401 without an Authorization header on every route but the callback', async () => {
    for (const [name, path, json] of secretKeyRoutes()) {
      const reply = await call(json === undefined ? 'GET' : 'POST', path, { auth: null, json });
      expect({ name, status: reply.status }).toEqual({ name, status: 401 });
      expect(reply.body.error).toMatch(/Authorization/);
    }
  });

  it('answers 401 to an invalid key on every route but the callback', async () => {
    for (const [name, path, json] of secretKeyRoutes()) {
      const reply = await call(json === undefined ? 'GET' : 'POST', path, { auth: 'tr_dev_not_a_real_key_000000', json });
      expect({ name, status: reply.status, error: reply.body.error }).toEqual({ name, status: 401, error: 'Invalid API key' });
    }
  });

  it('answers 401 to an Authorization header that is not a bearer token', async () => {
    const reply = await call('GET', TOKENS, { auth: null, headers: { authorization: `Basic ${TEST_KEYS.dev}` } });
    expectError(reply, 401, /Bearer/);
  });

  it('refuses a public access token on create, list, retrieve and cancel with 401', async () => {
    const jwtAuth = { auth: token.publicAccessToken };
    expectError(await call('POST', TOKENS, { json: {}, ...jwtAuth }), 401, /public access token/i);
    expectError(await call('GET', TOKENS, jwtAuth), 401, /public access token/i);
    expectError(await call('GET', tokenPath(token.id), jwtAuth), 401, /public access token/i);
    expectError(await cancel(token.id, {}, jwtAuth), 401, /public access token/i);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it('refuses a forged public access token on complete with 401', async () => {
    const forged = jwt.sign({ pub: true, scopes: [`write:waitpoints:${token.id}`] }, 'not-the-signing-secret-0123456789', {
      subject: 'dev',
      expiresIn: 60,
    });
    expectError(await complete(token.id, { data: 1 }, { auth: forged }), 401);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });
});

// ---------------------------------------------------------------------------------------
// List
// ---------------------------------------------------------------------------------------

describe('GET /api/v1/waitpoints/tokens (list)', () => {
  /** 27 tokens sharing one tag, created one after another: `pageTokens[0]` is the oldest. */
  const pageTag = uniqueTag('paging');
  const pageTokens: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 27; i++) pageTokens.push((await createToken({ tags: [pageTag] })).id);
  });

  it('answers { data, pagination } with list items', async () => {
    const reply = await list({ 'filter[tags]': pageTag, 'page[size]': '1' });
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.body).sort()).toEqual(['data', 'pagination']);
    const [item] = reply.body.data;
    expect(item).toEqual({
      id: pageTokens[26],
      url: expect.stringContaining(`/${pageTokens[26]}/callback/`),
      status: 'WAITING',
      timeoutAt: expect.any(String),
      completedAfter: expect.any(String),
      tags: [pageTag],
      createdAt: expect.any(String),
    });
    expect(item.completedAfter).toBe(item.timeoutAt);
  });

  it('lists newest first, 25 per page by default', async () => {
    const reply = await list({ 'filter[tags]': pageTag });
    expect(reply.body.data.map((t: { id: string }) => t.id)).toEqual([...pageTokens].reverse().slice(0, 25));
    expect(reply.body.pagination.next).toEqual(expect.any(String));
    expect(reply.body.pagination).not.toHaveProperty('previous');
  });

  it.each(['0', '101', '-1', '2.5', 'ten'])('rejects page[size]=%s with 400', async (size) => {
    expectError(await list({ 'page[size]': size }), 400, /page\[size\]/);
  });

  it('accepts page[size] from 1 to 100', async () => {
    expect(await listIds({ 'filter[tags]': pageTag, 'page[size]': '1' })).toHaveLength(1);
    expect(await listIds({ 'filter[tags]': pageTag, 'page[size]': '100' })).toHaveLength(27);
  });

  it('pages forward with page[after]=pagination.next, yielding every token exactly once', async () => {
    const seen: string[] = [];
    const pages: number[] = [];
    let after: string | undefined;
    do {
      const query: Record<string, string> = { 'filter[tags]': pageTag, 'page[size]': '4' };
      if (after !== undefined) query['page[after]'] = after;
      const reply = await list(query);
      expect(reply.status).toBe(200);
      seen.push(...reply.body.data.map((t: { id: string }) => t.id));
      pages.push(reply.body.data.length);
      after = reply.body.pagination.next;
      if (pages.length > 1) expect(reply.body.pagination.previous).toEqual(expect.any(String));
    } while (after !== undefined && pages.length < 20);
    expect(pages).toEqual([4, 4, 4, 4, 4, 4, 3]);
    expect(seen).toEqual([...pageTokens].reverse());
  });

  it('accepts cursors with or without the waitpoint_ prefix', async () => {
    const first = await list({ 'filter[tags]': pageTag, 'page[size]': '5' });
    const next = first.body.pagination.next as string;
    const bare = await listIds({ 'filter[tags]': pageTag, 'page[size]': '5', 'page[after]': internalId(next) });
    const prefixed = await listIds({ 'filter[tags]': pageTag, 'page[size]': '5', 'page[after]': `waitpoint_${internalId(next)}` });
    expect(bare).toEqual([...pageTokens].reverse().slice(5, 10));
    expect(prefixed).toEqual(bare);
  });

  it('pages back with page[before]=pagination.previous', async () => {
    const first = await list({ 'filter[tags]': pageTag, 'page[size]': '5' });
    const second = await list({ 'filter[tags]': pageTag, 'page[size]': '5', 'page[after]': first.body.pagination.next });
    const back = await list({ 'filter[tags]': pageTag, 'page[size]': '5', 'page[before]': second.body.pagination.previous });
    expect(back.body.data.map((t: { id: string }) => t.id)).toEqual(first.body.data.map((t: { id: string }) => t.id));
    // Going back onto the first page: the next cursor leads forward again, there is nothing newer.
    expect(back.body.pagination.next).toEqual(expect.any(String));
    expect(back.body.pagination).not.toHaveProperty('previous');
  });

  it('rejects a single-valued parameter given twice with 400, and reads a repeated list parameter as one list', async () => {
    expectError(await call('GET', `${TOKENS}?page[size]=5&page[size]=5`), 400, /^page\[size\] was given 2 times; give it once$/);
    expect((await call('GET', `${TOKENS}?filter[status]=WAITING&filter[status]=COMPLETED&filter[tags]=${pageTag}`)).status).toBe(200);
  });

  it('names every bad parameter in one 400', async () => {
    const reply = await list({ 'page[size]': '0', 'filter[status]': 'DONE', 'filter[colour]': 'blue' });
    expectError(reply, 400, /^unknown query parameter filter\[colour\];.*; page\[size\] must .*; filter\[status\] accepts/);
  });

  it('rejects a cursor that is not a token id with 400', async () => {
    expectError(await list({ 'page[after]': 'not-a-cursor' }), 400, /page\[after\]/);
    expectError(await list({ 'page[before]': 'waitpoint_nope' }), 400, /page\[before\]/);
  });

  describe('filters', () => {
    const tag = uniqueTag('status');
    const ids: Record<'waiting' | 'completed' | 'cancelled', string> = { waiting: '', completed: '', cancelled: '' };

    beforeAll(async () => {
      ids.waiting = (await createToken({ tags: [tag] })).id;
      ids.completed = (await createToken({ tags: [tag] })).id;
      ids.cancelled = (await createToken({ tags: [tag] })).id;
      expect((await complete(ids.completed, { data: { ok: true } })).status).toBe(200);
      expect((await cancel(ids.cancelled)).status).toBe(200);
    });

    it('filter[status] with one status returns only tokens in that status', async () => {
      expect(await listIds({ 'filter[tags]': tag, 'filter[status]': 'WAITING' })).toEqual([ids.waiting]);
      expect(await listIds({ 'filter[tags]': tag, 'filter[status]': 'COMPLETED' })).toEqual([ids.completed]);
      expect(await listIds({ 'filter[tags]': tag, 'filter[status]': 'CANCELLED' })).toEqual([ids.cancelled]);
      expect(await listIds({ 'filter[tags]': tag, 'filter[status]': 'TIMED_OUT' })).toEqual([]);
    });

    it('filter[status] with several statuses returns exactly those statuses', async () => {
      const reply = await list({ 'filter[tags]': tag, 'filter[status]': 'WAITING,CANCELLED' });
      expect(reply.body.data.map((t: { id: string; status: string }) => [t.id, t.status])).toEqual([
        [ids.cancelled, 'CANCELLED'],
        [ids.waiting, 'WAITING'],
      ]);
      expect(await listIds({ 'filter[tags]': tag, 'filter[status]': 'COMPLETED,TIMED_OUT' })).toEqual([ids.completed]);
    });

    it('list items never carry the output', async () => {
      const reply = await list({ 'filter[tags]': tag });
      expect(reply.body.data).toHaveLength(3);
      for (const item of reply.body.data) {
        expect(item).not.toHaveProperty('output');
        expect(item).not.toHaveProperty('outputType');
        expect(item).not.toHaveProperty('outputIsError');
      }
      const done = reply.body.data.find((t: { id: string }) => t.id === ids.completed);
      expect(done).toMatchObject({ status: 'COMPLETED', completedAt: expect.any(String) });
      const waiting = reply.body.data.find((t: { id: string }) => t.id === ids.waiting);
      expect(waiting).not.toHaveProperty('completedAt');
    });

    it('filter[idempotencyKey] returns the token created with that key', async () => {
      const key = `list-key-${randomUUID()}`;
      const token = await createToken({ idempotencyKey: key, tags: [tag] });
      const reply = await list({ 'filter[idempotencyKey]': key });
      expect(reply.body.data.map((t: { id: string }) => t.id)).toEqual([token.id]);
      expect(reply.body.data[0]).toMatchObject({ idempotencyKey: key, idempotencyKeyExpiresAt: expect.any(String) });
      expect(await listIds({ 'filter[idempotencyKey]': `no-such-key-${randomUUID()}` })).toEqual([]);
    });

    it('filter[tags] matches tokens having any of the tags; items show tags sorted', async () => {
      const [a, b, c] = [uniqueTag('a'), uniqueTag('b'), uniqueTag('c')];
      const tokenA = await createToken({ tags: [a, 'zz-shared', 'aa-shared'] });
      const tokenB = await createToken({ tags: [b] });
      await createToken({ tags: [c] });
      expect(await listIds({ 'filter[tags]': `${a},${b}` })).toEqual([tokenB.id, tokenA.id]);
      const item = (await list({ 'filter[tags]': a })).body.data[0];
      expect(item.tags).toEqual([a, 'aa-shared', 'zz-shared'].sort((x, y) => x.localeCompare(y)));
    });

    describe('filter[createdAt]', () => {
      const dateTag = uniqueTag('dates');
      const made: { id: string; createdAt: number }[] = [];

      beforeAll(async () => {
        for (let i = 0; i < 3; i++) {
          const token = await createToken({ tags: [dateTag] });
          made.push({ id: token.id, createdAt: Date.parse((await retrieve(token.id)).createdAt) });
          await sleep(15);
        }
        expect(made[0].createdAt).toBeLessThan(made[1].createdAt);
        expect(made[1].createdAt).toBeLessThan(made[2].createdAt);
      });

      it('[from] and [to] accept millisecond timestamps (as the SDK sends them); both bounds are inclusive', async () => {
        const middle = String(made[1].createdAt);
        expect(await listIds({ 'filter[tags]': dateTag, 'filter[createdAt][from]': middle })).toEqual([made[2].id, made[1].id]);
        expect(await listIds({ 'filter[tags]': dateTag, 'filter[createdAt][to]': middle })).toEqual([made[1].id, made[0].id]);
        expect(await listIds({ 'filter[tags]': dateTag, 'filter[createdAt][from]': middle, 'filter[createdAt][to]': middle })).toEqual([
          made[1].id,
        ]);
      });

      it('[from] and [to] accept ISO 8601 dates', async () => {
        const iso = (ms: number) => new Date(ms).toISOString();
        expect(
          await listIds({
            'filter[tags]': dateTag,
            'filter[createdAt][from]': iso(made[0].createdAt + 1),
            'filter[createdAt][to]': iso(made[2].createdAt - 1),
          }),
        ).toEqual([made[1].id]);
      });

      it('[period] keeps tokens created within that period; with [from], the later bound wins', async () => {
        expect(await listIds({ 'filter[tags]': dateTag, 'filter[createdAt][period]': '1h' })).toEqual(made.map((m) => m.id).reverse());
        expect(
          await listIds({
            'filter[tags]': dateTag,
            'filter[createdAt][period]': '7d',
            'filter[createdAt][from]': String(made[2].createdAt),
          }),
        ).toEqual([made[2].id]);
        // A period that ends before these tokens existed: `to` in the past excludes them all.
        expect(
          await listIds({
            'filter[tags]': dateTag,
            'filter[createdAt][period]': '1h',
            'filter[createdAt][to]': String(made[0].createdAt - 1),
          }),
        ).toEqual([]);
      });
    });

    it.each([
      ['filter[status]', 'DONE', /filter\[status\]/],
      ['filter[status]', 'WAITING,NOPE', /filter\[status\]/],
      ['filter[createdAt][from]', 'yesterday', /filter\[createdAt\]\[from\]/],
      ['filter[createdAt][to]', '2025-13-45', /filter\[createdAt\]\[to\]/],
      ['filter[createdAt][period]', 'forever', /filter\[createdAt\]\[period\]/],
      ['filter[tags]', 'x'.repeat(129), /filter\[tags\]/],
      ['filter[color]', 'blue', /unknown query parameter filter\[color\]/],
    ])('rejects %s=%s with 400', async (key, value, message) => {
      expectError(await list({ [key]: value }), 400, message);
    });
  });
});

// ---------------------------------------------------------------------------------------
// Retrieve
// ---------------------------------------------------------------------------------------

describe('GET /api/v1/waitpoints/tokens/:id (retrieve)', () => {
  it('finds a token by its id with or without the waitpoint_ prefix', async () => {
    const token = await createToken({ tags: ['r'] });
    const withPrefix = await retrieve(token.id);
    const withoutPrefix = await retrieve(internalId(token.id));
    expect(withPrefix.id).toBe(token.id);
    expect(withoutPrefix).toEqual(withPrefix);
  });

  it('shows a waiting token without completion fields', async () => {
    const retrieved = await retrieve((await createToken()).id);
    expect(retrieved.status).toBe('WAITING');
    for (const field of ['completedAt', 'output', 'outputType', 'outputIsError']) expect(retrieved).not.toHaveProperty(field);
  });

  it('answers 404 { error } for an unknown id', async () => {
    const unknown = `waitpoint_${'0'.repeat(26)}`;
    expectError(await call('GET', tokenPath(unknown)), 404, /not found/);
    expectError(await call('GET', tokenPath('0'.repeat(26))), 404, /not found/);
    expectError(await call('GET', tokenPath('nonsense')), 404, /not found/);
  });

  it('shows a completed token with its output as a JSON string', async () => {
    const token = await createToken();
    const before = Date.now();
    await complete(token.id, { data: { approved: true, by: 'ada', n: [1, 2] } });
    const retrieved = await retrieve(token.id);
    expect(retrieved).toMatchObject({
      id: token.id,
      status: 'COMPLETED',
      output: JSON.stringify({ approved: true, by: 'ada', n: [1, 2] }),
      outputType: 'application/json',
      outputIsError: false,
    });
    expect(Date.parse(retrieved.completedAt)).toBeGreaterThanOrEqual(before);
    expect(JSON.parse(retrieved.output)).toEqual({ approved: true, by: 'ada', n: [1, 2] });
  });
});

describe('a token id that cannot be one of ours', () => {
  // As on Trigger.dev, whose routes look any string up: not a 400, simply not found.
  const malformed = ['nonsense', `waitpoint_${'0'.repeat(25)}`, `WAITPOINT_${'0'.repeat(26)}`, "1' OR '1'='1"];

  it.each(malformed)('%p is not found (404) by retrieve, complete, cancel and the event stream', async (id) => {
    const path = tokenPath(encodeURIComponent(id));
    const replies = {
      retrieve: (await call('GET', path)).status,
      complete: (await call('POST', `${path}/complete`, { json: { data: 1 } })).status,
      cancel: (await call('POST', `${path}/cancel`, { json: {} })).status,
      events: (await call('GET', `${path}/events`)).status,
    };
    expect(replies).toEqual({ retrieve: 404, complete: 404, cancel: 404, events: 404 });
    expectError(await call('GET', path), 404, new RegExp(`^Waitpoint token .* not found$`));
  });

  it('is refused by a callback URL as a hash that does not match (401)', async () => {
    expectError(await call('POST', `${tokenPath('nonsense')}/callback/${'0'.repeat(64)}`, { auth: null, json: {} }), 401, /hash/);
  });

  it('is refused for a bad body first: 400 before 404, as before', async () => {
    expectError(await call('POST', `${tokenPath('nonsense')}/complete`, { json: { output: 1 } }), 400, /unknown field "output"/);
  });
});

// ---------------------------------------------------------------------------------------
// Complete
// ---------------------------------------------------------------------------------------

describe('POST /api/v1/waitpoints/tokens/:id/complete', () => {
  it('completes with { data } using the secret key and answers { success: true }', async () => {
    const token = await createToken();
    const reply = await complete(token.id, { data: 'yes' });
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { success: true } });
    expect(await retrieve(token.id)).toMatchObject({ status: 'COMPLETED', output: '"yes"' });
  });

  it('accepts the id without the waitpoint_ prefix', async () => {
    const token = await createToken();
    expect((await complete(internalId(token.id), { data: 1 })).status).toBe(200);
    expect(await retrieve(token.id)).toMatchObject({ status: 'COMPLETED', output: '1' });
  });

  it("completes with the token's own public access token (from x-trigger-jwt)", async () => {
    const token = await createToken();
    const reply = await complete(token.id, { data: { from: 'browser' } }, { auth: token.publicAccessToken });
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { success: true } });
    expect(await retrieve(token.id)).toMatchObject({ status: 'COMPLETED', output: '{"from":"browser"}' });
  });

  it('completes with a public access token the SDK signed itself with the secret key', async () => {
    const token = await createToken();
    const selfSigned = jwt.sign({ pub: true, scopes: [`write:waitpoints:${token.id}`] }, TEST_KEYS.dev, {
      subject: 'dev',
      expiresIn: 60,
    });
    expect((await complete(token.id, { data: 2 }, { auth: selfSigned })).status).toBe(200);
    expect((await retrieve(token.id)).status).toBe('COMPLETED');
  });

  it("refuses another token's public access token with 403 and leaves the token waiting", async () => {
    const [token, other] = [await createToken(), await createToken()];
    expectError(await complete(token.id, { data: 1 }, { auth: other.publicAccessToken }), 403);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it('is idempotent: completing a finished token again answers { success: true } and keeps the first output', async () => {
    const token = await createToken();
    await complete(token.id, { data: { first: true } });
    const first = await retrieve(token.id);
    const again = await complete(token.id, { data: { second: true } });
    expect({ status: again.status, body: again.body }).toEqual({ status: 200, body: { success: true } });
    const after = await retrieve(token.id);
    expect(after.output).toBe('{"first":true}');
    expect(after).toEqual(first);
  });

  it('with {} completes without storing an output', async () => {
    const token = await createToken();
    expect((await complete(token.id, {})).status).toBe(200);
    const retrieved = await retrieve(token.id);
    expect(retrieved).toMatchObject({ status: 'COMPLETED', outputType: 'application/json', outputIsError: false });
    expect(retrieved).not.toHaveProperty('output');
  });

  it('stores { data: null } as the JSON output "null"', async () => {
    const token = await createToken();
    expect((await complete(token.id, { data: null })).status).toBe(200);
    expect((await retrieve(token.id)).output).toBe('null');
  });

  it('rejects an unknown field (such as { output }) with 400 and leaves the token waiting', async () => {
    const token = await createToken();
    expectError(await complete(token.id, { output: { approved: true } }), 400, /unknown field "output"/);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it('rejects empty, malformed and non-object bodies with 400', async () => {
    const token = await createToken();
    const path = `${tokenPath(token.id)}/complete`;
    expectError(await call('POST', path, { body: '' }), 400, /empty/i);
    expectError(await call('POST', path, { body: '{"data":' }), 400, /JSON/);
    expectError(await call('POST', path, { body: '[1]' }), 400, /JSON object/);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it('answers 404 for an unknown token', async () => {
    expectError(await complete(`waitpoint_${'0'.repeat(26)}`, { data: 1 }), 404, /not found/);
  });

  it('rejects a body over 3 MiB with 413 and leaves the token waiting', async () => {
    const token = await createToken();
    expectError(await complete(token.id, { data: 'x'.repeat(3 * MiB) }), 413, /too large/);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  describe('large outputs, up to the 3 MiB body limit', () => {
    let maxPayload: number;
    beforeAll(async () => {
      maxPayload = await natsMaxPayload();
      // These cases need outputs between the NATS max_payload and the 3 MiB HTTP limit.
      expect(maxPayload + 64 * KiB).toBeLessThan(3 * MiB);
    });

    it('stores and returns a large output intact', async () => {
      const token = await createToken();
      const data = { blob: 'é"x\\😀'.repeat(Math.floor(maxPayload / 16)) };
      expect((await complete(token.id, { data })).status).toBe(200);
      expect(JSON.parse((await retrieve(token.id)).output)).toEqual(data);
    });

    it('returns every large output intact when many are retrieved at once (more than one batch reply holds)', async () => {
      // Retrieves that arrive together travel to the token-service in one message; answers
      // that would not fit its reply come back on their own.
      const tokens = await Promise.all(Array.from({ length: 8 }, () => createToken()));
      const blobs = tokens.map((_, i) => `${i}`.repeat(200 * KiB));
      for (const [i, token] of tokens.entries()) expect((await complete(token.id, { data: blobs[i] })).status).toBe(200);
      const retrieved = await Promise.all([...tokens, ...tokens].map((token) => retrieve(token.id)));
      expect(retrieved.map((token) => JSON.parse(token.output) === blobs[tokens.findIndex((t) => t.id === token.id)])).toEqual(
        new Array(16).fill(true),
      );
    });

    // Beyond what one NATS message carries, an output travels through the JetStream object
    // store: it is stored and read back intact, and the event stream keeps flowing.
    it.each([
      // A sweep around the size where the request still fits one message but its event would not.
      ['just under the NATS max_payload', (max: number) => Array.from({ length: 16 }, (_, i) => max - 64 * (i + 1))],
      ['just over the NATS max_payload', (max: number) => [max + 64 * KiB]],
      ['just under 3 MiB', () => [3 * MiB - 64]],
    ])('an output %s is stored intact, and the event stream keeps flowing', async (_label, sizes) => {
      for (const size of sizes(maxPayload)) {
        for (const via of ['complete', 'callback'] as const) {
          const token = await createToken();
          const blob = 'x'.repeat(size - 12);
          const reply =
            via === 'complete'
              ? await complete(token.id, { data: { blob } })
              : await call('POST', token.url, { auth: null, json: { blob } });
          const context = { size, via };
          expect({ ...context, status: reply.status }).toEqual({ ...context, status: 200 });
          const retrieved = await retrieve(token.id);
          expect({ ...context, status: retrieved.status }).toEqual({ ...context, status: 'COMPLETED' });
          expect(JSON.parse(retrieved.output).blob === blob).toBe(true);
        }
      }
      await expectOutboxCaughtUp();
    });
  });

  it('speaks CORS: a preflight is answered with access-control-allow-origin and the JWT headers exposed', async () => {
    const token = await createToken();
    const response = await fetch(`${system.baseUrl}${tokenPath(token.id)}/complete`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(response.headers.get('access-control-allow-methods')).toMatch(/POST/);

    const completed = await complete(
      token.id,
      { data: 1 },
      { headers: { origin: 'https://app.example.com' }, auth: token.publicAccessToken },
    );
    expect(completed.status).toBe(200);
    expect(completed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(completed.headers.get('access-control-expose-headers')).toMatch(/x-trigger-jwt/);
  });

  it('create, list and retrieve send no CORS headers', async () => {
    const origin = { origin: 'https://app.example.com' };
    const created = await call('POST', TOKENS, { json: {}, headers: origin });
    const listed = await call('GET', TOKENS, { headers: origin });
    const retrieved = await call('GET', tokenPath(created.body.id), { headers: origin });
    for (const reply of [created, listed, retrieved]) {
      expect(reply.status).toBe(200);
      expect(reply.headers.get('access-control-allow-origin')).toBeNull();
    }
    const preflight = await fetch(`${system.baseUrl}${TOKENS}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------
// Cancel (our extension)
// ---------------------------------------------------------------------------------------

describe('POST /api/v1/waitpoints/tokens/:id/cancel (extension)', () => {
  it('cancels a waiting token; retrieve shows CANCELLED with an error output', async () => {
    const token = await createToken();
    const reply = await cancel(token.id);
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { success: true, status: 'CANCELLED' } });
    const retrieved = await retrieve(token.id);
    expect(retrieved).toMatchObject({
      status: 'CANCELLED',
      outputIsError: true,
      outputType: 'application/json',
      completedAt: expect.any(String),
    });
    expect(JSON.parse(retrieved.output)).toEqual({ code: 'WAITPOINT_CANCELLED', message: expect.stringMatching(/cancelled/) });
  });

  it('puts the reason into the error message', async () => {
    const token = await createToken();
    expect((await cancel(token.id, { reason: 'order withdrawn' })).status).toBe(200);
    expect(JSON.parse((await retrieve(token.id)).output).message).toMatch(/order withdrawn/);
  });

  it('accepts an empty body', async () => {
    const token = await createToken();
    expect((await call('POST', `${tokenPath(token.id)}/cancel`, { body: '' })).status).toBe(200);
  });

  it('is idempotent: cancelling a cancelled token answers 200 and changes nothing', async () => {
    const token = await createToken();
    await cancel(token.id, { reason: 'first' });
    const first = await retrieve(token.id);
    const again = await cancel(token.id, { reason: 'second' });
    expect({ status: again.status, body: again.body }).toEqual({ status: 200, body: { success: true, status: 'CANCELLED' } });
    expect(await retrieve(token.id)).toEqual(first);
  });

  it('refuses to cancel a completed token with 409', async () => {
    const token = await createToken();
    await complete(token.id, { data: 'done' });
    expectError(await cancel(token.id), 409, /COMPLETED/);
    expect(await retrieve(token.id)).toMatchObject({ status: 'COMPLETED', output: '"done"' });
  });

  it('makes a later complete a no-op', async () => {
    const token = await createToken();
    await cancel(token.id);
    expect((await complete(token.id, { data: 'late' })).status).toBe(200);
    expect((await retrieve(token.id)).status).toBe('CANCELLED');
  });

  it('rejects unknown fields and a non-string reason with 400', async () => {
    const token = await createToken();
    expectError(await cancel(token.id, { why: 'x' }), 400, /unknown field "why"/);
    expectError(await cancel(token.id, { reason: 42 }), 400, /reason/);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it.each([
    ['a reason over 1000 characters', { reason: 'r'.repeat(1001) }, /^reason must be a string of at most 1000 characters$/],
    ['a null reason (optional means absent)', { reason: null }, /^reason must be a string of at most 1000 characters$/],
    ['a reason PostgreSQL cannot store', { reason: 'a\u0000b' }, /^reason contains a NUL character/],
  ])('rejects %s with 400 and leaves the token waiting', async (_label, body, message) => {
    const token = await createToken();
    expectError(await cancel(token.id, body), 400, message);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it('answers 404 for an unknown token', async () => {
    expectError(await cancel(`waitpoint_${'0'.repeat(26)}`), 404, /not found/);
  });

  it('shows a cancelled token as TIMED_OUT to the Trigger.dev SDK (x-trigger-api-version)', async () => {
    const tag = uniqueTag('sdk-view');
    const token = await createToken({ tags: [tag] });
    await cancel(token.id);
    const sdkHeaders = { headers: { 'x-trigger-api-version': '2025-07-16' } };
    const retrieved = await retrieve(token.id, sdkHeaders);
    expect(retrieved).toMatchObject({ status: 'TIMED_OUT', outputIsError: true });
    expect(JSON.parse(retrieved.output).message).toMatch(/cancelled/);
    const listed = await list({ 'filter[tags]': tag }, sdkHeaders);
    expect(listed.body.data.map((t: { status: string }) => t.status)).toEqual(['TIMED_OUT']);
    // …and its TIMED_OUT filter finds what it is shown as TIMED_OUT.
    const filtered = await list({ 'filter[tags]': tag, 'filter[status]': 'TIMED_OUT' }, sdkHeaders);
    expect(filtered.body.data.map((t: { id: string }) => t.id)).toEqual([token.id]);
    // Everyone else sees the real status.
    expect((await retrieve(token.id)).status).toBe('CANCELLED');
  });
});

// ---------------------------------------------------------------------------------------
// Callback URL
// ---------------------------------------------------------------------------------------

describe('POST <token url> (callback)', () => {
  it('needs no Authorization header and stores the whole JSON body as the output', async () => {
    const token = await createToken();
    const reply = await call('POST', token.url, { auth: null, json: { status: 'approved', items: [1, 2] } });
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { success: true } });
    const retrieved = await retrieve(token.id);
    expect(retrieved).toMatchObject({ status: 'COMPLETED', outputType: 'application/json', outputIsError: false });
    expect(JSON.parse(retrieved.output)).toEqual({ status: 'approved', items: [1, 2] });
  });

  it.each([
    ['a JSON array', '[1,2,3]', '[1,2,3]'],
    ['a JSON string', '"hello"', '"hello"'],
    ['an empty body', '', '{}'],
    ['invalid JSON', 'not json {', '{}'],
  ])('accepts %s', async (_label, body, output) => {
    const token = await createToken();
    expect((await call('POST', token.url, { auth: null, body, headers: { 'content-type': 'text/plain' } })).status).toBe(200);
    expect(await retrieve(token.id)).toMatchObject({ status: 'COMPLETED', output });
  });

  it('answers 401 to a wrong hash and leaves the token waiting', async () => {
    const token = await createToken();
    const hash = token.url.slice(-64);
    const wrong = `${hash.slice(0, 63)}${hash.endsWith('0') ? '1' : '0'}`;
    expectError(await call('POST', `${token.url.slice(0, -64)}${wrong}`, { auth: null, json: {} }), 401, /hash/);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it('answers 401 to a truncated hash', async () => {
    const token = await createToken();
    expectError(await call('POST', token.url.slice(0, -1), { auth: null, json: {} }), 401, /hash/);
    expectError(await call('POST', token.url.slice(0, -32), { auth: null, json: {} }), 401, /hash/);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it("answers 401 to another token's hash", async () => {
    const [token, other] = [await createToken(), await createToken()];
    expectError(await call('POST', `${token.url.slice(0, -64)}${other.url.slice(-64)}`, { auth: null, json: {} }), 401);
  });

  it('is a 200 no-op on an already completed token', async () => {
    const token = await createToken();
    await complete(token.id, { data: 'first' });
    const reply = await call('POST', token.url, { auth: null, json: { second: true } });
    expect({ status: reply.status, body: reply.body }).toEqual({ status: 200, body: { success: true } });
    expect((await retrieve(token.id)).output).toBe('"first"');
  });

  it('rejects a body over 3 MiB with 413', async () => {
    const token = await createToken();
    expectError(await call('POST', token.url, { auth: null, json: { blob: 'x'.repeat(3 * MiB) } }), 413, /too large/);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });
});

// ---------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------

describe('idempotency', () => {
  it('returns the same token, isCached: true, for the same idempotencyKey within its TTL', async () => {
    const key = `idem-${randomUUID()}`;
    const first = await createToken({ idempotencyKey: key, tags: ['first'] });
    const second = await createToken({ idempotencyKey: key, tags: ['second'], timeout: '1h' });
    expect(first.isCached).toBe(false);
    expect(second).toMatchObject({ id: first.id, isCached: true, url: first.url });
    expect((await retrieve(first.id)).tags).toEqual(['first']);
  });

  it('returns the cached token even after it completed', async () => {
    const key = `idem-${randomUUID()}`;
    const first = await createToken({ idempotencyKey: key });
    await complete(first.id, { data: 'done' });
    const again = await createToken({ idempotencyKey: key });
    expect(again).toMatchObject({ id: first.id, isCached: true });
    expect((await retrieve(again.id)).status).toBe('COMPLETED');
  });

  it('creates a new token once the idempotencyKeyTTL has passed', async () => {
    const key = `idem-${randomUUID()}`;
    const first = await createToken({ idempotencyKey: key, idempotencyKeyTTL: '1s' });
    expect(first.isCached).toBe(false);
    await sleep(1200);
    const second = await createToken({ idempotencyKey: key, idempotencyKeyTTL: '1s' });
    expect(second.isCached).toBe(false);
    expect(second.id).not.toBe(first.id);
    expect(await createToken({ idempotencyKey: key })).toMatchObject({ id: second.id, isCached: true });
    // The first token is untouched by the key moving on.
    expect((await retrieve(first.id)).status).toBe('WAITING');
  });

  it('x-trigger-request-idempotency-key: a repeated request returns the same token and creates no second one', async () => {
    const tag = uniqueTag('request-key');
    const headers = { 'x-trigger-request-idempotency-key': randomUUID() };
    const first = await createToken({ tags: [tag] }, { headers });
    const retried = await createToken({ tags: [tag] }, { headers });
    expect(retried.id).toBe(first.id);
    expect(await listIds({ 'filter[tags]': tag })).toEqual([first.id]);
    // A different request key is a different request.
    const other = await createToken({ tags: [tag] }, { headers: { 'x-trigger-request-idempotency-key': randomUUID() } });
    expect(other.id).not.toBe(first.id);
    expect(await listIds({ 'filter[tags]': tag })).toHaveLength(2);
  });

  it('x-trigger-request-idempotency-key: concurrent repeats amid other creates (batched together) still make one token', async () => {
    // Creates with request keys share batch statements; a repeated key fails its batch, which is
    // then written one command at a time, so the repeats find the first token and the rest go through.
    const tag = uniqueTag('request-key-batch');
    const repeated = randomUUID();
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        call('POST', TOKENS, {
          json: { tags: [tag] },
          headers: { 'x-trigger-request-idempotency-key': i % 3 === 0 ? repeated : randomUUID() },
        }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(30).fill(200));
    const repeatedIds = new Set(replies.filter((_, i) => i % 3 === 0).map((r) => (r.body as { id: string }).id));
    expect(repeatedIds.size).toBe(1);
    expect(await listIds({ 'filter[tags]': tag, 'page[size]': '100' })).toHaveLength(21);
  });

  it('20 concurrent creates with the same idempotencyKey yield exactly one token', async () => {
    const key = `idem-${randomUUID()}`;
    const tag = uniqueTag('concurrent');
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => call('POST', TOKENS, { json: { idempotencyKey: key, tags: [tag] } })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
    const ids = new Set(replies.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(replies.filter((r) => r.body.isCached === false)).toHaveLength(1);
    expect(await listIds({ 'filter[tags]': tag })).toEqual([...ids]);
  });
});

// ---------------------------------------------------------------------------------------
// Environments
// ---------------------------------------------------------------------------------------

describe('environments', () => {
  const prod = { auth: TEST_KEYS.prod };

  it('a token of another environment does not exist for this one', async () => {
    const tag = uniqueTag('prod-only');
    const token = await createToken({ tags: [tag] }, prod);
    expectError(await call('GET', tokenPath(token.id)), 404);
    expectError(await complete(token.id, { data: 'from dev' }), 404);
    expectError(await cancel(token.id), 404);
    expect(await listIds({ 'filter[tags]': tag })).toEqual([]);
    expect(await listIds({ 'filter[tags]': tag }, prod)).toEqual([token.id]);
    expect((await retrieve(token.id, prod)).status).toBe('WAITING');
  });

  it("a public access token issued in one environment cannot complete another environment's token", async () => {
    const prodToken = await createToken({}, prod);
    const devToken = await createToken();
    expect((await complete(prodToken.id, { data: 1 }, { auth: devToken.publicAccessToken })).status).toBe(403);
    expect((await retrieve(prodToken.id, prod)).status).toBe('WAITING');
  });

  it('the same idempotencyKey in two environments gives two different tokens', async () => {
    const key = `shared-${randomUUID()}`;
    const inDev = await createToken({ idempotencyKey: key });
    const inProd = await createToken({ idempotencyKey: key }, prod);
    expect(inDev.isCached).toBe(false);
    expect(inProd.isCached).toBe(false);
    expect(inProd.id).not.toBe(inDev.id);
    expect(await listIds({ 'filter[idempotencyKey]': key })).toEqual([inDev.id]);
    expect(await listIds({ 'filter[idempotencyKey]': key }, prod)).toEqual([inProd.id]);
  });
});

// ---------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------

describe('racing completions', () => {
  it('an API complete and a callback racing on 20 tokens: each ends with exactly one of the outputs and one terminal event', async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, () => createToken()));
    const replies = await Promise.all(
      tokens.flatMap((token, i) => [
        complete(token.id, { data: { by: 'api', i } }),
        call('POST', token.url, { auth: null, json: { by: 'callback', i } }),
      ]),
    );
    expect(replies.map((r) => [r.status, r.body])).toEqual(Array(40).fill([200, { success: true }]));

    for (const [i, token] of tokens.entries()) {
      const retrieved = await retrieve(token.id);
      expect(retrieved.status).toBe('COMPLETED');
      expect([JSON.stringify({ by: 'api', i }), JSON.stringify({ by: 'callback', i })]).toContain(retrieved.output);
    }

    const rows = await withDatabase(async (db) => {
      const result = await db.query<{ stream_id: string; terminal: number }>(
        `SELECT stream_id, count(*)::int AS terminal FROM es_events
          WHERE event_type = ANY($1) AND stream_id = ANY($2)
          GROUP BY stream_id ORDER BY stream_id`,
        [TERMINAL_EVENTS, tokens.map((t) => `token-${internalId(t.id)}`)],
      );
      return result.rows;
    });
    expect(rows).toHaveLength(20);
    expect(rows.every((row) => row.terminal === 1)).toBe(true);
  });

  it('a cancel racing a complete on 20 tokens: each ends in one terminal state, agreeing with the answers', async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, () => createToken()));
    const outcomes = await Promise.all(
      tokens.map(async (token) => {
        const [completed, cancelled] = await Promise.all([complete(token.id, { data: 'won' }), cancel(token.id)]);
        return { token, completed, cancelled };
      }),
    );
    for (const { token, completed, cancelled } of outcomes) {
      expect(completed.status).toBe(200);
      const retrieved = await retrieve(token.id);
      if (retrieved.status === 'COMPLETED') {
        expect(retrieved.output).toBe('"won"');
        expect(cancelled.status).toBe(409);
      } else {
        expect(retrieved.status).toBe('CANCELLED');
        expect(cancelled.status).toBe(200);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// Other HTTP behaviour
// ---------------------------------------------------------------------------------------

describe('other HTTP behaviour', () => {
  it('answers unknown routes with 404 { error }', async () => {
    expectError(await call('GET', '/api/v1/waitpoints/nothing-here'), 404);
    expectError(await call('DELETE', tokenPath(`waitpoint_${'0'.repeat(26)}`)), 404);
  });

  it('echoes a sane x-request-id and makes one up otherwise', async () => {
    const given = await call('GET', TOKENS, { headers: { 'x-request-id': 'req-123' } });
    expect(given.headers.get('x-request-id')).toBe('req-123');
    const made = await call('GET', TOKENS);
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
