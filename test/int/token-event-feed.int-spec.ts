/**
 * The gateway's TokenEventFeed: one JetStream consumer, fanned out by token id, no gap across a
 * NATS server restart, and a stalled consumer replaced. Runs against a private nats-server
 * started here, so restarting it disturbs nobody else.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { JetStreamClient, NatsConnection, connect } from 'nats';
import { EventEnvelope, TokenView } from '@waitpoints/contracts';
import { eventStreamConfig } from '@waitpoints/contracts/nats/event-stream';
import { TokenEventFeed } from '../../apps/gateway/src/realtime/token-event-feed';
import { eventually } from '../support/scheduler';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const prefix = 'feedtest';
let port: number;
let storeDir: string;
let server: ChildProcess | undefined;
let publisher: NatsConnection;
let js: JetStreamClient;
let feed: TokenEventFeed;

async function startNats(): Promise<void> {
  server = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' });
  server.once('error', (error) => {
    throw new Error(`cannot start ${NATS_SERVER} (set NATS_SERVER_BIN): ${error.message}`);
  });
  await eventually('the private NATS server accepts connections', async () => {
    const probe = await connect({ servers: `nats://127.0.0.1:${port}`, timeout: 500 }).catch(() => undefined);
    if (!probe) return undefined;
    await probe.close();
    return true;
  });
}

async function stopNats(): Promise<void> {
  const running = server;
  server = undefined;
  if (!running || running.exitCode !== null) return;
  const exited = new Promise((resolve) => running.once('exit', resolve));
  running.kill('SIGTERM');
  await exited;
}

let nextVersion = 0;
function envelope(tokenId: string): EventEnvelope {
  return {
    eventId: randomUUID(),
    type: 'TokenCreated',
    schemaVersion: 1,
    streamId: `token-${tokenId}`,
    streamVersion: 1,
    globalPosition: String(++nextVersion),
    data: { tokenId, environment: 'dev', timeoutAt: new Date().toISOString(), tags: [], createdAt: new Date().toISOString() },
    metadata: { correlationId: 'feed-test', actor: { type: 'operator' } },
    recordedAt: new Date().toISOString(),
  };
}

const publish = async (tokenId: string) => {
  const event = envelope(tokenId);
  await js.publish(`${prefix}.evt.token.created.dev.${tokenId}`, JSON.stringify(event), { msgID: event.eventId });
  return event;
};

beforeAll(async () => {
  Logger.overrideLogger(false);
  port = await freePort();
  storeDir = mkdtempSync(join(tmpdir(), 'waitpoints-feed-'));
  await startNats();
  publisher = await connect({ servers: `nats://127.0.0.1:${port}`, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  await (
    await publisher.jetstreamManager()
  ).streams.add(eventStreamConfig(prefix, { replicas: 1, duplicateWindowMs: 120_000, maxAgeMs: 0 }));
  js = publisher.jetstream();
  await publish('before-the-feed');
  feed = new TokenEventFeed({ servers: [`nats://127.0.0.1:${port}`], subjectPrefix: prefix });
  feed.start();
  expect(await feed.whenLive(10_000)).toBe(true);
});

afterAll(async () => {
  await feed?.stop();
  await publisher?.close().catch(() => undefined);
  await stopNats();
  rmSync(storeDir, { recursive: true, force: true });
});

describe('the token event feed', () => {
  it("hands each event to its token's listeners and to the listeners of every token, nothing from before it went live", async () => {
    const first: string[] = [];
    const second: string[] = [];
    const everything: string[] = [];
    const stopFirst = feed.subscribe('token-a', (e) => first.push(e.eventId));
    feed.subscribe('token-a', (e) => second.push(e.eventId));
    const stopAll = feed.subscribeAll((e) => everything.push(e.data.tokenId));

    const a = await publish('token-a');
    const b = await publish('token-b');
    await eventually('both events arrived', async () => (everything.length >= 2 ? true : undefined));
    expect(first).toEqual([a.eventId]);
    expect(second).toEqual([a.eventId]);
    expect(everything).toEqual(['token-a', 'token-b']);
    expect(b.data.tokenId).toBe('token-b');

    stopFirst();
    stopAll();
    expect(feed.stats.listeners).toBe(1);
  });

  describe('the views of tokens this gateway just created (an event stream opened after the create starts from them)', () => {
    const view = (tokenId: string) =>
      ({ id: tokenId, status: 'WAITING', version: 1, createdAt: new Date().toISOString() }) as unknown as TokenView;
    const publishCompletion = async (tokenId: string) => {
      const event = { ...envelope(tokenId), type: 'TokenCompleted', streamVersion: 2 } as EventEnvelope;
      await js.publish(`${prefix}.evt.token.completed.dev.${tokenId}`, JSON.stringify(event), { msgID: event.eventId });
    };
    const delivered = async (tokenId: string) => {
      // A listener on another token sees every later message only after this one: wait for a marker behind it.
      const marker = `marker-${tokenId}`;
      let seen = false;
      const stop = feed.subscribe(marker, () => (seen = true));
      await publish(marker);
      await eventually('the feed delivered up to the marker', async () => (seen ? true : undefined));
      stop();
    };

    it("keeps a created token's view through its own creation event, forgets it at the next event", async () => {
      feed.rememberCreated('dev', view('fresh-1'));
      await publish('fresh-1');
      await delivered('fresh-1');
      expect(feed.createdView('dev', 'fresh-1')).toMatchObject({ id: 'fresh-1', version: 1 });
      expect(feed.createdView('prod', 'fresh-1')).toBeUndefined();
      await publishCompletion('fresh-1');
      await delivered('fresh-1b');
      expect(feed.createdView('dev', 'fresh-1')).toBeUndefined();
    });

    it('does not remember a create answered after the feed already carried a later event of the token', async () => {
      await publishCompletion('raced-1');
      await delivered('raced-1');
      feed.rememberCreated('dev', view('raced-1'));
      expect(feed.createdView('dev', 'raced-1')).toBeUndefined();
    });
  });

  it('misses nothing across a restart of the NATS server, in order', async () => {
    const seen: string[] = [];
    feed.subscribeAll((e) => seen.push(e.data.tokenId));
    await publish('restart-1');
    await eventually('the first event arrived', async () => (seen.includes('restart-1') ? true : undefined));

    await stopNats();
    await startNats();
    // Published as soon as the server is back, likely before the feed has reconnected.
    await eventually('the publisher is back', async () => (await publish('restart-2').catch(() => undefined)) && true);
    await publish('restart-3');
    await eventually('the feed caught up', async () => (seen.includes('restart-3') ? true : undefined), 60_000);
    expect(seen.filter((id) => id.startsWith('restart-'))).toEqual(['restart-1', 'restart-2', 'restart-3']);
  }, 90_000);

  it('replaces a consumer that stops delivering while the stream moves on, and misses nothing', async () => {
    // A consumer that answers heartbeats but hands over nothing (seen after a cluster node died),
    // played here by the feed dropping what arrives for a moment.
    const internals = feed as unknown as { dispatch: (message: unknown) => void };
    const dispatch = internals.dispatch.bind(feed);
    let stalled = true;
    internals.dispatch = (message) => {
      if (!stalled) dispatch(message);
    };
    try {
      const seen: string[] = [];
      feed.subscribe('stalled-token', (e) => seen.push(e.eventId));
      const event = await publish('stalled-token');
      setTimeout(() => (stalled = false), 500);
      await eventually('the event arrived through a new consumer', async () => (seen.length > 0 ? true : undefined), 20_000);
      expect(seen).toEqual([event.eventId]);
    } finally {
      internals.dispatch = dispatch;
    }
  }, 30_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
}
