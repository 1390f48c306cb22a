/**
 * GET /api/v1/waitpoints/tokens/:id/events: a token's state as Server-Sent Events, learnt
 * from JetStream. Driven over real HTTP against the started system.
 */
import { connect } from 'nats';
import { TokenCommandSubjects, toInternalTokenId } from '@waitpoints/contracts';
import { TokenEventFeed } from '../../apps/gateway/src/realtime/token-event-feed';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';
import { TEST_NATS_URL } from '../support/services';
import { eventually, tokenApi } from '../support/scheduler';
import { openEventStream } from '../support/sse';

let system: RunningSystem;
let api: ReturnType<typeof tokenApi>;
const devKey = { authorization: `Bearer ${TEST_KEYS.dev}` };

beforeAll(async () => {
  system = await startSystem({ env: { REALTIME_HEARTBEAT_MS: '200' } });
  api = tokenApi(system);
});

afterAll(async () => {
  await system?.stop();
});

async function createToken(body: Record<string, unknown> = { timeout: '1h' }) {
  const response = await fetch(system.tokensUrl, {
    method: 'POST',
    headers: { ...devKey, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return { ...((await response.json()) as { id: string; url: string }), publicAccessToken: response.headers.get('x-trigger-jwt')! };
}

/** A cancel command as the gateway sends it over NATS. */
const cancelCommand = (tokenId: string) => ({
  environment: 'dev',
  tokenId,
  reason: 'behind the gateway',
  metadata: { correlationId: 'token-events-spec', actor: { type: 'operator' } },
});

const eventsUrl = (id: string, query = '') => `${system.tokensUrl}/${id}/events${query}`;
const tokenOf = (event: { data: string }) => JSON.parse(event.data);

describe('the token event stream', () => {
  it('sends the current state first, then the completion, then ends', async () => {
    const token = await createToken({ timeout: '1h', tags: ['sse'] });
    const stream = await openEventStream(eventsUrl(token.id), devKey);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');

    const first = await stream.next();
    expect(first).toMatchObject({ event: 'token', lastEventId: '1' });
    expect(tokenOf(first!)).toMatchObject({ id: token.id, status: 'WAITING', tags: ['sse'] });

    await api.complete(token.id, { approved: true });
    const [changed, end, ...more] = await stream.rest();
    expect(changed).toMatchObject({ event: 'token', lastEventId: '2' });
    expect(tokenOf(changed)).toMatchObject({
      status: 'COMPLETED',
      output: '{"approved":true}',
      outputType: 'application/json',
      outputIsError: false,
    });
    // Exactly what a retrieve answers at that point.
    expect(tokenOf(changed)).toEqual(await api.retrieve(token.id));
    expect(end).toMatchObject({ event: 'end', data: '{"status":"COMPLETED"}' });
    expect(more).toEqual([]);
  });

  it('for a finished token sends its state and ends at once', async () => {
    const token = await createToken();
    await api.complete(token.id, 'done');
    const stream = await openEventStream(eventsUrl(token.id), devKey);
    const events = await stream.rest();
    expect(events.map((e) => [e.event, e.lastEventId])).toEqual([
      ['token', '2'],
      ['end', '2'],
    ]);
    expect(tokenOf(events[0])).toMatchObject({ status: 'COMPLETED', output: '"done"' });
  });

  it('streams a cancellation with its error output', async () => {
    const token = await createToken();
    const stream = await openEventStream(eventsUrl(token.id), devKey);
    await stream.next();
    const cancel = await fetch(`${system.tokensUrl}/${token.id}/cancel`, {
      method: 'POST',
      headers: devKey,
      body: JSON.stringify({ reason: 'post deleted' }),
    });
    expect(cancel.status).toBe(200);
    const [changed] = await stream.rest();
    const cancelled = tokenOf(changed);
    expect(cancelled).toMatchObject({ status: 'CANCELLED', outputIsError: true });
    expect(JSON.parse(cancelled.output)).toMatchObject({ code: 'WAITPOINT_CANCELLED', message: expect.stringContaining('post deleted') });
  });

  it('keeps an idle stream open with heartbeat comments', async () => {
    const token = await createToken();
    const controller = new AbortController();
    const response = await fetch(eventsUrl(token.id), { headers: devKey, signal: controller.signal });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const deadline = Date.now() + 10_000;
    while ((text.match(/: heartbeat/g) ?? []).length < 2 && Date.now() < deadline) {
      text += decoder.decode((await reader.read()).value);
    }
    controller.abort();
    expect((text.match(/: heartbeat\n\n/g) ?? []).length).toBeGreaterThanOrEqual(2);
  });

  describe('opened right after the create, as wait.forToken does', () => {
    it.each([
      ['a heartbeat token', { timeout: '1h', heartbeatTimeout: '5m' }],
      ['a token with an approval page', { timeout: '1h', approval: { title: 'Ship it?', commentRequired: true } }],
    ])("starts %s from the create's answer, exactly what a retrieve answers", async (_kind, body) => {
      const token = await createToken(body);
      expect(system.gateway.get(TokenEventFeed).createdView('dev', toInternalTokenId(token.id))).toBeDefined();
      const stream = await openEventStream(eventsUrl(token.id), devKey);
      const first = await stream.next();
      stream.close();
      expect(tokenOf(first!)).toEqual(await api.retrieve(token.id));
    });

    it("starts from the create's answer, exactly what a retrieve answers, without reading the token", async () => {
      const feed = system.gateway.get(TokenEventFeed);
      const token = await createToken({ timeout: '1h', tags: ['fresh'], idempotencyKey: `fresh-${Date.now()}` });
      expect(feed.createdView('dev', toInternalTokenId(token.id))).toBeDefined();
      const stream = await openEventStream(eventsUrl(token.id), devKey);
      const first = await stream.next();
      expect(first).toMatchObject({ event: 'token', lastEventId: '1' });
      expect(tokenOf(first!)).toEqual(await api.retrieve(token.id));

      await api.complete(token.id, 'ok');
      const [changed, end] = await stream.rest();
      expect(tokenOf(changed)).toEqual(await api.retrieve(token.id));
      expect(end).toMatchObject({ event: 'end', data: '{"status":"COMPLETED"}' });
      expect(feed.createdView('dev', toInternalTokenId(token.id))).toBeUndefined();
    });

    it('reads the token again once this gateway changed it: the stream starts from the completion', async () => {
      const token = await createToken();
      await api.complete(token.id, 'at once');
      const events = await (await openEventStream(eventsUrl(token.id), devKey)).rest();
      expect(events.map((e) => [e.event, e.lastEventId])).toEqual([
        ['token', '2'],
        ['end', '2'],
      ]);
    });

    it("forgets the create's answer at the token's first other event, whoever caused it", async () => {
      const feed = system.gateway.get(TokenEventFeed);
      const token = await createToken();
      const internalId = toInternalTokenId(token.id);
      expect(feed.createdView('dev', internalId)?.status).toBe('WAITING');
      // Cancelled behind this gateway's back, as through another gateway: straight over NATS.
      const nc = await connect({ servers: TEST_NATS_URL });
      try {
        const subject = `${system.subjectPrefix}.${TokenCommandSubjects.cancel}`;
        const reply = await nc.request(
          subject,
          JSON.stringify({ pattern: subject, id: 'behind-the-gateway', data: cancelCommand(internalId) }),
          {
            timeout: 5_000,
          },
        );
        expect(reply.json()).toMatchObject({ response: { ok: true, value: { status: 'CANCELLED' } } });
      } finally {
        await nc.close();
      }
      await eventually('the feed forgot the view', async () => (feed.createdView('dev', internalId) === undefined ? true : undefined));
      const events = await (await openEventStream(eventsUrl(token.id), devKey)).rest();
      expect(events.map((e) => [e.event, e.lastEventId])).toEqual([
        ['token', '2'],
        ['end', '2'],
      ]);
    });

    it('never answers for another environment', async () => {
      const feed = system.gateway.get(TokenEventFeed);
      const token = await createToken();
      expect(feed.createdView('prod', toInternalTokenId(token.id))).toBeUndefined();
    });
  });

  describe('reconnecting with Last-Event-ID', () => {
    it('replays the completion missed while disconnected, and only that', async () => {
      const token = await createToken();
      const first = await openEventStream(eventsUrl(token.id), devKey);
      const seen = await first.next();
      first.close();
      await api.complete(token.id, { n: 1 });

      const again = await openEventStream(eventsUrl(token.id), { ...devKey, 'last-event-id': seen!.lastEventId });
      const events = await again.rest();
      expect(events.map((e) => [e.event, e.lastEventId])).toEqual([
        ['token', '2'],
        ['end', '2'],
      ]);
      expect(tokenOf(events[0])).toMatchObject({ status: 'COMPLETED', output: '{"n":1}' });
    });

    it('sends nothing it already sent while the token still waits, then the completion', async () => {
      const token = await createToken();
      const stream = await openEventStream(eventsUrl(token.id), { ...devKey, 'last-event-id': '1' });
      // Not an event stream (a 503 on a loaded machine, say) would otherwise read as no events.
      expect({ status: stream.status, json: stream.json }).toEqual({ status: 200, json: undefined });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await api.complete(token.id, { n: 2 });
      const events = await stream.rest();
      expect(events.map((e) => [e.event, e.lastEventId])).toEqual([
        ['token', '2'],
        ['end', '2'],
      ]);
    });

    it('answers 204 when the client has seen the end (EventSource then stops reconnecting)', async () => {
      const token = await createToken();
      await api.complete(token.id, {});
      const response = await fetch(eventsUrl(token.id), { headers: { ...devKey, 'last-event-id': '2' } });
      expect(response.status).toBe(204);
    });

    it('rejects a Last-Event-ID that is no version', async () => {
      const token = await createToken();
      const stream = await openEventStream(eventsUrl(token.id), { ...devKey, 'last-event-id': 'abc' });
      expect(stream.status).toBe(400);
      expect(stream.json).toEqual({ error: expect.stringContaining('Last-Event-ID') });
    });
  });

  describe('who may watch', () => {
    it("accepts the token's public access token, as a header or as ?access_token= (EventSource)", async () => {
      const token = await createToken();
      const viaHeader = await openEventStream(eventsUrl(token.id), { authorization: `Bearer ${token.publicAccessToken}` });
      expect(tokenOf((await viaHeader.next())!)).toMatchObject({ id: token.id, status: 'WAITING' });
      viaHeader.close();
      const viaQuery = await openEventStream(eventsUrl(token.id, `?access_token=${token.publicAccessToken}`));
      expect(tokenOf((await viaQuery.next())!)).toMatchObject({ id: token.id });
      viaQuery.close();
    });

    it("refuses another token's public access token (403)", async () => {
      const [token, other] = await Promise.all([createToken(), createToken()]);
      const stream = await openEventStream(eventsUrl(token.id, `?access_token=${other.publicAccessToken}`));
      expect(stream.status).toBe(403);
      expect(stream.json).toEqual({ error: `This public access token does not allow reading waitpoint ${token.id}` });
    });

    it('refuses a secret key in the URL, and a request without credentials (401)', async () => {
      const token = await createToken();
      const inUrl = await openEventStream(eventsUrl(token.id, `?access_token=${TEST_KEYS.dev}`));
      expect(inUrl.status).toBe(401);
      expect(inUrl.json).toEqual({ error: expect.stringContaining('must not be sent in the URL') });
      const anonymous = await openEventStream(eventsUrl(token.id));
      expect(anonymous.status).toBe(401);
    });

    it("answers 404 for an unknown token and for another environment's token", async () => {
      const token = await createToken();
      const otherEnvironment = await openEventStream(eventsUrl(token.id), { authorization: `Bearer ${TEST_KEYS.prod}` });
      expect(otherEnvironment.status).toBe(404);
      const unknown = await openEventStream(eventsUrl('waitpoint_01jd0000000000000000000000'), devKey);
      expect(unknown.status).toBe(404);
      expect(unknown.json).toEqual({ error: expect.stringContaining('not found') });
    });

    it('lets browsers of any origin read the stream (CORS)', async () => {
      const token = await createToken();
      const stream = await openEventStream(eventsUrl(token.id, `?access_token=${token.publicAccessToken}`), {
        origin: 'https://app.example.com',
      });
      expect(stream.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      stream.close();
      const preflight = await fetch(eventsUrl(token.id), {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-headers': 'authorization,last-event-id' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization,last-event-id');
    });
  });

  it('serves many watchers from one JetStream consumer, and forgets each watcher that leaves', async () => {
    const tokens = await Promise.all(Array.from({ length: 40 }, () => createToken()));
    const streams = await Promise.all(tokens.map((t) => openEventStream(eventsUrl(t.id), devKey)));
    await Promise.all(streams.map((s) => s.next()));
    const feed = system.gateway.get(TokenEventFeed);
    expect(feed.stats.watchedTokens).toBeGreaterThanOrEqual(40);

    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      const consumers = await (await nc.jetstreamManager()).consumers.list(system.streamName).next();
      expect(consumers).toHaveLength(1);
    } finally {
      await nc.close();
    }

    await Promise.all(tokens.map((t, i) => api.complete(t.id, { i })));
    const outcomes = await Promise.all(streams.map((s) => s.rest()));
    expect(outcomes.map((events) => tokenOf(events[0]).output)).toEqual(tokens.map((_, i) => JSON.stringify({ i })));
    await eventually('every watcher unsubscribed', async () => (feed.stats.listeners === 0 ? true : undefined));
  });
});
