/**
 * Long jobs over HTTP (Waitpoints extensions): reject a token with an error, move its timeout,
 * keep it alive with heartbeats. Each route's answers, its errors (unknown token, another
 * environment's token, a finished token, bad input) and how the token then reads.
 */
import { WaitpointRejectedError, WaitpointsClient } from '@waitpoints/sdk';
import { openEventStream } from '../support/sse';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem();
});

afterAll(async () => {
  await system?.stop();
});

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

async function call(
  method: string,
  path: string,
  options: { json?: unknown; raw?: string; auth?: string | null; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  const auth = options.auth === undefined ? TEST_KEYS.dev : options.auth;
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  if (options.json !== undefined || options.raw !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${system.tokensUrl}${path}`, {
    method,
    headers,
    body: options.raw ?? (options.json === undefined ? undefined : JSON.stringify(options.json)),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

const create = async (body: object = { timeout: '1h' }) => {
  const reply = await call('POST', '', { json: body });
  expect(reply.status).toBe(200);
  return { id: reply.body.id as string, publicAccessToken: reply.headers.get('x-trigger-jwt')! };
};
const TRIGGER_SDK = { 'x-trigger-api-version': '2025-07-16' };
const UNKNOWN = 'waitpoint_01jzzzzzzzzzzzzzzzzzzzzzzz';
const reject = (id: string, json: unknown, auth?: string) => call('POST', `/${id}/reject`, { json, auth });

describe('POST /:id/reject', () => {
  it('ends a waiting token REJECTED with the error as output; our clients see REJECTED, the official SDK COMPLETED with outputIsError', async () => {
    const { id } = await create();
    const answer = await reject(id, { error: { message: 'Refused by a moderator', code: 'MODERATION_REFUSED' } });
    expect(answer).toMatchObject({ status: 200, body: { success: true, status: 'REJECTED' } });

    const ours = await call('GET', `/${id}`);
    expect(ours.body).toMatchObject({
      status: 'REJECTED',
      outputIsError: true,
      outputType: 'application/json',
      output: JSON.stringify({ code: 'MODERATION_REFUSED', message: 'Refused by a moderator' }),
    });
    const theirs = await call('GET', `/${id}`, { headers: TRIGGER_SDK });
    expect(theirs.body).toMatchObject({ status: 'COMPLETED', outputIsError: true, output: ours.body.output });
  });

  it('gives the error the code WAITPOINT_REJECTED when none is sent', async () => {
    const { id } = await create();
    await reject(id, { error: { message: 'no' } });
    expect(JSON.parse((await call('GET', `/${id}`)).body.output)).toEqual({ code: 'WAITPOINT_REJECTED', message: 'no' });
  });

  it("accepts the token's public access token, and speaks CORS like complete", async () => {
    const { id, publicAccessToken } = await create();
    const preflight = await call('OPTIONS', `/${id}/reject`, {
      auth: null,
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const answer = await call('POST', `/${id}/reject`, {
      json: { error: { message: 'closed the tab' } },
      auth: publicAccessToken,
      headers: { origin: 'https://app.example' },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect((await call('GET', `/${id}`)).body.status).toBe('REJECTED');
  });

  it("refuses another token's public access token (403)", async () => {
    const { id } = await create();
    const other = await create();
    expect((await reject(id, { error: { message: 'x' } }, other.publicAccessToken)).status).toBe(403);
  });

  it('answers a finished token like complete does: 200, its status, nothing changed', async () => {
    const { id } = await create();
    await call('POST', `/${id}/complete`, { json: { data: { ok: true } } });
    expect(await reject(id, { error: { message: 'too late' } })).toMatchObject({
      status: 200,
      body: { success: true, status: 'COMPLETED' },
    });
    expect((await call('GET', `/${id}`)).body).toMatchObject({ status: 'COMPLETED', output: '{"ok":true}', outputIsError: false });
  });

  it("does not find an unknown token, nor another environment's (404)", async () => {
    const { id } = await create();
    expect((await reject(UNKNOWN, { error: { message: 'x' } })).status).toBe(404);
    expect((await reject(id, { error: { message: 'x' } }, TEST_KEYS.prod)).status).toBe(404);
  });

  it.each([
    ['no error', {}, /error is required/],
    ['an error that is not an object', { error: 'no' }, /error must be an object/],
    ['no message', { error: {} }, /error.message must be a non-empty string/],
    ['an empty message', { error: { message: '' } }, /error.message must be a non-empty string/],
    ['a message that is not a string', { error: { message: 42 } }, /error.message must be a non-empty string/],
    ['a code that is not a string', { error: { message: 'x', code: 7 } }, /error.code must be a non-empty string/],
    ['a message over 4096 characters', { error: { message: 'x'.repeat(4097) } }, /at most 4096 characters/],
    ['a code over 128 characters', { error: { message: 'x', code: 'C'.repeat(129) } }, /at most 128 characters/],
    ['an unknown field in error', { error: { message: 'x', detail: 'y' } }, /unknown field "error.detail"/],
    ['an unknown field', { error: { message: 'x' }, data: 1 }, /unknown field "data"/],
    ['a NUL character', { error: { message: 'a\u0000b' } }, /NUL/],
  ])('refuses %s with a 400 that says what to send', async (_label, body, message) => {
    const { id } = await create();
    const answer = await reject(id, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(message);
    expect((await call('GET', `/${id}`)).body.status).toBe('WAITING');
  });

  it('refuses an empty body (400) and one over its size limit (413)', async () => {
    const { id } = await create();
    expect((await call('POST', `/${id}/reject`, { raw: '' })).status).toBe(400);
    expect((await call('POST', `/${id}/reject`, { raw: JSON.stringify({ error: { message: 'x'.repeat(40_000) } }) })).status).toBe(413);
  });
});

describe('POST /:id/extend', () => {
  it('moves the timeout (a duration from now or an ISO date); retrieve, list and the event stream show it', async () => {
    const { id } = await create({ timeout: '1h', tags: ['extend-spec'] });
    const stream = await openEventStream(`${system.tokensUrl}/${id}/events`, { authorization: `Bearer ${TEST_KEYS.dev}` });
    expect((await stream.next())?.event).toBe('token'); // the state when the stream opened
    const before = Date.now();
    const answer = await call('POST', `/${id}/extend`, { json: { timeout: '3h' } });
    expect(answer.status).toBe(200);
    const timeoutAt = Date.parse(answer.body.timeoutAt);
    expect(timeoutAt).toBeGreaterThanOrEqual(before + 3 * 3_600_000 - 1_000);
    expect(answer.body).toEqual({ success: true, timeoutAt: answer.body.timeoutAt, deadline: answer.body.timeoutAt });
    expect((await call('GET', `/${id}`)).body).toMatchObject({ timeoutAt: answer.body.timeoutAt, completedAfter: answer.body.timeoutAt });
    const listed = await call('GET', `?filter[tags]=extend-spec`);
    expect(listed.body.data[0].timeoutAt).toBe(answer.body.timeoutAt);
    const moved = await stream.next();
    stream.close();
    expect(moved?.event).toBe('token');
    expect(JSON.parse(moved!.data)).toMatchObject({ status: 'WAITING', timeoutAt: answer.body.timeoutAt });

    const date = new Date(Date.now() + 86_400_000).toISOString();
    expect((await call('POST', `/${id}/extend`, { json: { timeout: date } })).body.timeoutAt).toBe(date);
  });

  it('refuses a finished token with 409 and its status', async () => {
    const { id } = await create();
    await reject(id, { error: { message: 'no' } });
    const answer = await call('POST', `/${id}/extend`, { json: { timeout: '1h' } });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatch(/already REJECTED/);
  });

  it("does not find an unknown token, nor another environment's (404)", async () => {
    const { id } = await create();
    expect((await call('POST', `/${UNKNOWN}/extend`, { json: { timeout: '1h' } })).status).toBe(404);
    expect((await call('POST', `/${id}/extend`, { json: { timeout: '1h' }, auth: TEST_KEYS.prod })).status).toBe(404);
  });

  it('is for secret keys only (401 with a public access token)', async () => {
    const { id, publicAccessToken } = await create();
    expect((await call('POST', `/${id}/extend`, { json: { timeout: '1h' }, auth: publicAccessToken })).status).toBe(401);
  });

  it.each([
    [{}, /timeout is required/],
    [{ timeout: 'whenever' }, /not valid/],
    [{ timeout: '2001-01-01T00:00:00Z' }, /in the past/],
    [{ timeout: 5 }, /timeout must be a string/],
    [{ timeout: '1h', until: 'x' }, /unknown field "until"/],
  ])('refuses %j with a 400', async (body, message) => {
    const { id } = await create();
    const answer = await call('POST', `/${id}/extend`, { json: body });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(message);
  });
});

describe('POST /:id/heartbeat', () => {
  it('restarts the heartbeat clock and answers the new deadlines; retrieve and list show them, the event stream does not', async () => {
    const { id } = await create({ timeout: '1h', heartbeatTimeout: '5m', tags: ['heartbeat-spec'] });
    const created = (await call('GET', `/${id}`)).body;
    expect(created).toMatchObject({ heartbeatTimeoutMs: 300_000 });
    expect(Date.parse(created.heartbeatDeadline)).toBe(Date.parse(created.createdAt) + 300_000);

    const before = Date.now();
    const answer = await call('POST', `/${id}/heartbeat`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      success: true,
      heartbeatDeadline: expect.any(String),
      timeoutAt: created.timeoutAt,
      deadline: answer.body.heartbeatDeadline,
    });
    expect(Date.parse(answer.body.heartbeatDeadline)).toBeGreaterThanOrEqual(before + 300_000 - 1_000);
    expect((await call('GET', `/${id}`)).body.heartbeatDeadline).toBe(answer.body.heartbeatDeadline);
    expect((await call('GET', `?filter[tags]=heartbeat-spec`)).body.data[0].heartbeatDeadline).toBe(answer.body.heartbeatDeadline);
  });

  it("accepts {} and the token's public access token, with CORS", async () => {
    const { id, publicAccessToken } = await create({ timeout: '1h', heartbeatTimeout: '1m' });
    const answer = await call('POST', `/${id}/heartbeat`, {
      json: {},
      auth: publicAccessToken,
      headers: { origin: 'https://worker.example' },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-allow-origin')).toBe('https://worker.example');
  });

  it('refuses a token created without heartbeatTimeout (400), a finished one (409), unknown or foreign ones (404), and a body with fields (400)', async () => {
    const plain = await create();
    expect(await call('POST', `/${plain.id}/heartbeat`)).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/without a heartbeatTimeout/) },
    });
    const finished = await create({ timeout: '1h', heartbeatTimeout: '1m' });
    await call('POST', `/${finished.id}/cancel`);
    expect(await call('POST', `/${finished.id}/heartbeat`)).toMatchObject({
      status: 409,
      body: { error: expect.stringMatching(/already CANCELLED/) },
    });
    expect((await call('POST', `/${UNKNOWN}/heartbeat`)).status).toBe(404);
    const foreign = await create({ timeout: '1h', heartbeatTimeout: '1m' });
    expect((await call('POST', `/${foreign.id}/heartbeat`, { auth: TEST_KEYS.prod })).status).toBe(404);
    expect((await call('POST', `/${foreign.id}/heartbeat`, { json: { at: 1 } })).status).toBe(400);
  });

  it('create refuses a bad heartbeatTimeout (400)', async () => {
    for (const heartbeatTimeout of ['soon', '0s', 5]) {
      const answer = await call('POST', '', { json: { timeout: '1h', heartbeatTimeout } });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatch(/heartbeatTimeout/);
    }
  });
});

describe('our SDK', () => {
  const client = () => new WaitpointsClient({ baseURL: system.baseUrl, secretKey: TEST_KEYS.dev });

  it('wait.rejectToken: forToken resolves { ok: false, error: WaitpointRejectedError } with message and code; unwrap throws it', async () => {
    const sdk = client();
    const token = await sdk.createToken({ timeout: '1h' });
    const waiting = sdk.forToken(token);
    expect(await sdk.rejectToken(token, { message: 'Refused', code: 'E_REFUSED' })).toEqual({ success: true, status: 'REJECTED' });
    const result = await waiting;
    expect(result.ok).toBe(false);
    const error = (result as { error: WaitpointRejectedError }).error;
    expect(error).toBeInstanceOf(WaitpointRejectedError);
    expect(error).toMatchObject({ message: 'Refused', code: 'E_REFUSED', tokenId: token.id });
    await expect(sdk.forToken(token).unwrap()).rejects.toBeInstanceOf(WaitpointRejectedError);
    expect((await sdk.retrieveToken(token)).error).toBeInstanceOf(WaitpointRejectedError);
  });

  it('extendToken and heartbeat answer the new deadlines as dates', async () => {
    const sdk = client();
    const token = await sdk.createToken({ timeout: '1h', heartbeatTimeout: '10m' });
    const extended = await sdk.extendToken(token, '2h');
    expect(extended.timeoutAt.getTime()).toBeGreaterThan(Date.now() + 3_600_000 + 3_000_000);
    const beat = await sdk.heartbeat(token);
    expect(beat.deadline).toEqual(beat.heartbeatDeadline);
    expect(beat.timeoutAt).toEqual(extended.timeoutAt);
    expect((await sdk.retrieveToken(token)).heartbeatDeadline).toEqual(beat.heartbeatDeadline);
  });
});
