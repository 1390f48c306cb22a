/**
 * wait.forToken, forAny and forAll against the started system: the gateway's event stream,
 * fed by JetStream, with real completions, timeouts, cancellations and restarts.
 */
import { createServer } from 'node:net';
import { INestApplication } from '@nestjs/common';
import { CreatedToken, WaitLimitExceededError, WaitpointCancelledError, WaitpointTimeoutError, WaitpointsClient } from '@waitpoints/sdk';
import { toInternalTokenId } from '@waitpoints/contracts';
import { createGateway } from '../../apps/gateway/src/app';
import { loadGatewayConfig } from '../../apps/gateway/src/config';
import { TokenEventFeed } from '../../apps/gateway/src/realtime/token-event-feed';
import { TokenServiceClient } from '../../apps/gateway/src/transport/token-service.client';
import { RunningScheduler, eventually, startScheduler } from '../support/scheduler';
import { TEST_NATS_URL } from '../support/services';
import { RunningSystem, TEST_KEYS, TEST_SIGNING_SECRETS, startSystem } from '../support/system';

let system: RunningSystem;
let scheduler: RunningScheduler;
let client: WaitpointsClient;
let feed: TokenEventFeed;

beforeAll(async () => {
  system = await startSystem();
  scheduler = await startScheduler(system);
  client = new WaitpointsClient({ baseURL: system.baseUrl, secretKey: TEST_KEYS.dev });
  feed = system.gateway.get(TokenEventFeed);
});

afterAll(async () => {
  await scheduler?.stop();
  await system?.stop();
});

afterEach(() => jest.restoreAllMocks());

const everyWatcherGone = () => eventually('the gateway dropped every watcher', async () => (feed.stats.listeners === 0 ? true : undefined));
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Approval = { approved: boolean; comment?: string };

describe('wait.forToken', () => {
  it('resolves at once for a token that is already completed', async () => {
    const token = await client.createToken();
    await client.completeToken<Approval>(token.id, { approved: true });
    const result = await client.forToken<Approval>(token.id, { maxWait: '5s' });
    expect(result).toEqual({ ok: true, id: token.id, output: { approved: true } });
  });

  it('waits while the token waits, and resumes with the output once it is completed', async () => {
    const token = await client.createToken({ timeout: '1h' });
    let settled = false;
    const waiting = client.forToken<Approval>(token).finally(() => (settled = true));
    await settle(300);
    expect(settled).toBe(false);
    await client.completeToken<Approval>(token.id, { approved: false, comment: 'too long' });
    expect(await waiting).toEqual({ ok: true, id: token.id, output: { approved: false, comment: 'too long' } });
  });

  it('.unwrap() returns the output directly', async () => {
    const token = await client.createToken();
    setTimeout(() => void client.completeToken(token.id, { approved: true }), 100);
    const approval = await client.forToken<Approval>(token.id).unwrap();
    expect(approval.approved).toBe(true);
  });

  it('gives { ok: false, error: WaitpointTimeoutError } when the token times out, and unwrap throws it', async () => {
    const token = await client.createToken({ timeout: '1s' });
    const result = await client.forToken(token.id, { maxWait: '20s' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(WaitpointTimeoutError);
    expect(result.error.message).toMatch(/^Waitpoint timed out at /);
    await expect(client.forToken(token.id).unwrap()).rejects.toBeInstanceOf(WaitpointTimeoutError);
  });

  it('gives a WaitpointCancelledError with the reason when the token is cancelled', async () => {
    const token = await client.createToken();
    const waiting = client.forToken(token.id);
    await settle(100);
    await client.cancelToken(token.id, { reason: 'post deleted' });
    const result = await waiting;
    expect(result).toMatchObject({ ok: false, error: expect.any(WaitpointCancelledError) });
    expect(!result.ok && result.error.message).toContain('post deleted');
  });

  it('cannot miss a completion that lands between the subscription and the first state read', async () => {
    const token = await client.createToken();
    // A stream opened right after the create starts from the create's answer, without a read;
    // forgotten here, the stream reads the token, and the race below lands inside that read.
    feed.forgetCreated(toInternalTokenId(token.id));
    const tokenService = system.gateway.get(TokenServiceClient);
    const readToken = tokenService.getToken.bind(tokenService);
    jest.spyOn(tokenService, 'getToken').mockImplementationOnce(async (query) => {
      // The gateway has subscribed; the state it reads now still says WAITING…
      const stale = await readToken(query);
      // …and the completion commits and reaches the gateway before that state is sent.
      const received = feed.stats.received;
      await client.completeToken(token.id, { raced: true });
      await eventually('the completion reached the gateway', async () => (feed.stats.received > received ? true : undefined));
      return stale;
    });
    const result = await client.forToken(token.id, { maxWait: '10s' });
    expect(result).toEqual({ ok: true, id: token.id, output: { raced: true } });
  });

  it('resolves every wait whose completion races its start', async () => {
    const tokens = await Promise.all(Array.from({ length: 30 }, () => client.createToken()));
    const results = await Promise.all(
      tokens.map(async (token, i) => {
        const waiting = client.forToken<number>(token.id, { maxWait: '20s' }).unwrap();
        await client.completeToken(token.id, i);
        return waiting;
      }),
    );
    expect(results).toEqual(tokens.map((_, i) => i));
  });

  it('rejects with the abort reason when its signal aborts, and the gateway lets go of the stream', async () => {
    const token = await client.createToken();
    const controller = new AbortController();
    const waiting = client.forToken(token.id, { signal: controller.signal });
    await eventually('the gateway follows the token', async () => (feed.stats.listeners > 0 ? true : undefined));
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    await everyWatcherGone();
  });

  it('rejects with WaitLimitExceededError after maxWait; the token keeps waiting', async () => {
    const token = await client.createToken();
    const started = Date.now();
    await expect(client.forToken(token.id, { maxWait: 300 })).rejects.toBeInstanceOf(WaitLimitExceededError);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await client.retrieveToken(token.id)).status).toBe('WAITING');
    await everyWatcherGone();
  });

  it('throws NotFoundError at once for an unknown token', async () => {
    await expect(client.forToken('waitpoint_01jd0000000000000000000000')).rejects.toMatchObject({ name: 'NotFoundError', status: 404 });
  });

  it("works with the token's public access token instead of the secret key", async () => {
    const token = await client.createToken();
    const browser = new WaitpointsClient({ baseURL: system.baseUrl, accessToken: token.publicAccessToken });
    const waiting = browser.forToken(token.id).unwrap();
    await client.completeToken(token.id, 'ok');
    expect(await waiting).toBe('ok');
  });

  it('keeps waiting across a gateway restart and resumes with the output', async () => {
    const port = await freePort();
    const startGateway = () =>
      createGateway(
        loadGatewayConfig({
          PORT: String(port),
          HOST: '127.0.0.1',
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          NATS_URL: TEST_NATS_URL,
          NATS_SUBJECT_PREFIX: system.subjectPrefix,
          API_KEYS: `dev:${TEST_KEYS.dev}`,
          SIGNING_SECRETS: TEST_SIGNING_SECRETS.join(','),
        }),
      );
    let gateway: INestApplication = await startGateway();
    try {
      const viaSecondGateway = new WaitpointsClient({ baseURL: `http://127.0.0.1:${port}`, secretKey: TEST_KEYS.dev });
      const token = await client.createToken();
      const waiting = viaSecondGateway.forToken(token.id, { maxWait: '30s' });
      await settle(300);
      await gateway.close(); // ends the stream; the SDK reconnects until a gateway answers again
      await client.completeToken(token.id, { afterRestart: true });
      await settle(500);
      gateway = await startGateway();
      expect(await waiting).toMatchObject({ ok: true, output: { afterRestart: true } });
    } finally {
      await gateway.close();
    }
  });
});

describe('wait.forAny and wait.forAll', () => {
  it('forAny resolves with the first token to finish, and stops waiting for the others', async () => {
    const tokens = await Promise.all([client.createToken(), client.createToken(), client.createToken()]);
    const first = client.forAny<string>(tokens);
    await settle(200);
    await client.completeToken(tokens[1].id, 'second');
    expect(await first).toEqual({ index: 1, id: tokens[1].id, result: { ok: true, id: tokens[1].id, output: 'second' } });
    await everyWatcherGone();
  });

  it('forAny(...).unwrap() throws when the first token to finish did not complete', async () => {
    const tokens = await Promise.all([client.createToken(), client.createToken()]);
    // The expectation is attached first: the waiter may resume before the cancel request is answered.
    const first = expect(client.forAny(tokens).unwrap()).rejects.toBeInstanceOf(WaitpointCancelledError);
    await client.cancelToken(tokens[0].id);
    await first;
  });

  it('forAll resolves once every token is finished, with results in the order given', async () => {
    const tokens: CreatedToken[] = await Promise.all([client.createToken(), client.createToken(), client.createToken()]);
    const all = client.forAll<number>(tokens);
    await client.completeToken(tokens[2].id, 2);
    await client.completeToken(tokens[0].id, 0);
    await client.cancelToken(tokens[1].id, { reason: 'not needed' });
    const results = await all;
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[0]).toEqual({ ok: true, id: tokens[0].id, output: 0 });
    expect(results[1]).toMatchObject({ ok: false, error: expect.any(WaitpointCancelledError) });
    await expect(client.forAll(tokens).unwrap()).rejects.toBeInstanceOf(WaitpointCancelledError);
  });

  it('forAll(...).unwrap() gives every output', async () => {
    const tokens = await Promise.all([client.createToken(), client.createToken()]);
    await Promise.all(tokens.map((t, i) => client.completeToken(t.id, { i })));
    expect(await client.forAll(tokens).unwrap()).toEqual([{ i: 0 }, { i: 1 }]);
  });
});

describe('the durable pattern: create with an idempotency key, wait, crash, restart', () => {
  /** The worker's code, exactly as it would run in a process that may die at any point. */
  async function approvalStep(documentId: string, options: { signal?: AbortSignal; onToken?: (t: CreatedToken) => void }) {
    const worker = new WaitpointsClient({ baseURL: system.baseUrl, secretKey: TEST_KEYS.dev });
    const token = await worker.createToken({ idempotencyKey: `approve-${documentId}`, idempotencyKeyTTL: '24h', timeout: '24h' });
    options.onToken?.(token);
    const approval = await worker.forToken<Approval>(token.id, { signal: options.signal }).unwrap();
    return { token, approval };
  }

  it('after a restart the same code gets the same token (isCached) and the output that arrived meanwhile', async () => {
    const documentId = `doc-${Date.now()}`;
    const crash = new AbortController();
    let created: CreatedToken | undefined;
    const firstRun = approvalStep(documentId, { signal: crash.signal, onToken: (t) => (created = t) });
    await eventually('the first run created its token', async () => created);
    crash.abort(new Error('worker process killed'));
    await expect(firstRun).rejects.toThrow('worker process killed');
    expect(created!.isCached).toBe(false);

    // While no worker runs, the moderator approves through the callback URL.
    const callback = await fetch(created!.url, { method: 'POST', body: JSON.stringify({ approved: true, comment: 'fine' }) });
    expect(callback.status).toBe(200);

    const secondRun = await approvalStep(documentId, {});
    expect(secondRun.token).toMatchObject({ id: created!.id, isCached: true });
    expect(secondRun.approval).toEqual({ approved: true, comment: 'fine' });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
