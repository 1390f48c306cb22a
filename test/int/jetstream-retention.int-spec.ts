/**
 * A bounded event stream (JETSTREAM_MAX_AGE) and catching up from the event store: the limits
 * reach a stream that already exists, and a durable consumer that was away longer than the
 * stream keeps messages gets every event it missed from PostgreSQL, once and in order, then
 * continues on JetStream.
 */
import { connect, nanos, NatsConnection, StorageType } from 'nats';
import { BEFORE_FIRST_EVENT, eventStreamName, OUTBOX_POSITION_HEADER, OutboxPosition } from '@waitpoints/contracts';
import { requestStoredEvents } from '@waitpoints/contracts/nats/event-store-catch-up';
import { TokenEventDelivery, consumeTokenEvents } from '@waitpoints/sdk/events';
import { WaitpointsClient } from '@waitpoints/sdk';
import { eventually, withDatabase } from '../support/scheduler';
import { TEST_NATS_URL, requireNats, uniqueRunName } from '../support/services';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

const MAX_AGE_MS = 2_000;
let system: RunningSystem;
let client: WaitpointsClient;
let nats: NatsConnection;

beforeAll(async () => {
  await requireNats();
  const name = uniqueRunName();
  nats = await connect({ servers: TEST_NATS_URL });
  // A stream as an older version left it: no age limit.
  await (
    await nats.jetstreamManager()
  ).streams.add({ name: eventStreamName(name), subjects: [`${name}.evt.>`], storage: StorageType.File });
  system = await startSystem({
    name,
    env: { JETSTREAM_MAX_AGE: '2s', JETSTREAM_DUPLICATE_WINDOW_MS: '1000', OUTBOX_CHECKPOINT_INTERVAL_MS: '100' },
  });
  client = new WaitpointsClient({ baseURL: system.baseUrl, secretKey: TEST_KEYS.dev });
});

afterAll(async () => {
  await system?.stop();
  await nats?.close();
});

const streamInfo = async () => (await nats.jetstreamManager()).streams.info(system.streamName);
const bare = (id: string) => id.replace('waitpoint_', '');

/** Event ids of the given tokens in the order the outbox publishes them. */
const storedEventIds = (tokenIds: string[]) =>
  withDatabase(system.databaseUrl, async (db) => {
    const { rows } = await db.query(
      `SELECT event_id FROM es_events WHERE data->>'tokenId' = ANY($1::text[]) ORDER BY transaction_id, global_position`,
      [tokenIds.map(bare)],
    );
    return rows.map((row) => row.event_id as string);
  });

describe('a bounded event stream', () => {
  it('has the configured limits, also when the stream existed before the start', async () => {
    const { config } = await streamInfo();
    expect(config.max_age).toBe(nanos(MAX_AGE_MS));
    expect(config.duplicate_window).toBe(nanos(1_000));
    expect(config.max_bytes).toBe(-1);
  });
});

describe('a durable consumer that was away longer than the stream keeps messages', () => {
  it('catches up from the event store: every missed event once and in order, then live events from JetStream', async () => {
    const handled: TokenEventDelivery[] = [];
    // What a service keeps with its handler's effects: the position of the last event it handled.
    let lastHandled: OutboxPosition | undefined;
    const options = {
      servers: TEST_NATS_URL,
      subjectPrefix: system.subjectPrefix,
      durableName: 'away-too-long',
      catchUp: { lastHandledPosition: () => lastHandled, pageSize: 2 },
      handler: (delivery: TokenEventDelivery) => {
        handled.push(delivery);
        lastHandled = delivery.position;
      },
    };

    const first = await consumeTokenEvents(options);
    const before = await client.createToken();
    await eventually('the consumer handled the first creation', async () => (handled.length === 1 ? true : undefined));
    expect(handled[0].position).toMatch(/^\d{20}-\d{19}$/);
    await first.stop();

    // Away: events come and age out of the stream.
    const missed = [await client.createToken(), await client.createToken(), await client.createToken()];
    await client.completeToken(missed[0].id, { approved: true });
    await client.cancelToken(missed[1].id);
    // The outbox published all six events so far (the stream was empty before), and they aged out.
    await eventually(
      'the stream received and then dropped every message',
      async () => {
        const { state } = await streamInfo();
        return state.last_seq >= 6 && state.messages === 0 ? true : undefined;
      },
      15_000,
    );
    // Still away: an event published after the others aged out, normally still in the stream
    // when the consumer comes back (its JetStream copy is then skipped).
    const publishedBefore = (await streamInfo()).state.last_seq;
    const stillInStream = await client.createToken();
    await eventually('the last creation was published', async () =>
      (await streamInfo()).state.last_seq > publishedBefore ? true : undefined,
    );

    const missedIds = await storedEventIds([...missed, stillInStream].map((t) => t.id));
    expect(missedIds).toHaveLength(6);
    handled.length = 0;
    const back = await consumeTokenEvents(options);
    try {
      // consumeTokenEvents resolved after the catch-up: the missed events are handled already.
      expect(handled.map((d) => d.event.eventId)).toEqual(missedIds);
      expect(back.caughtUp).toBe(6);
      const live = await client.createToken();
      await eventually('the live creation arrived', async () => (handled.length === 7 ? true : undefined));
      await new Promise((resolve) => setTimeout(resolve, 300)); // room for a duplicate to show up
      expect(handled.map((d) => d.event.eventId)).toEqual([...missedIds, ...(await storedEventIds([live.id]))]);
      expect(handled.map((d) => d.source)).toEqual([...missedIds.map(() => 'event-store'), 'jetstream']);
      const positions = handled.map((d) => d.position!);
      expect([...positions].sort()).toEqual(positions);
      expect(handled.every((d) => d.event.data.tokenId !== bare(before.id))).toBe(true);
    } finally {
      await back.stop();
    }
  });
});

describe('a durable consumer back within the time the stream keeps messages', () => {
  // Its own system with the default limits (7 days): nothing can age out while the test runs.
  let recent: RunningSystem;
  let recentClient: WaitpointsClient;

  beforeAll(async () => {
    recent = await startSystem();
    recentClient = new WaitpointsClient({ baseURL: recent.baseUrl, secretKey: TEST_KEYS.dev });
  });

  afterAll(async () => {
    await recent?.stop();
  });

  it('reads nothing from the event store when JetStream still holds what came after', async () => {
    let lastHandled: OutboxPosition | undefined;
    const handled: TokenEventDelivery[] = [];
    const options = {
      servers: TEST_NATS_URL,
      subjectPrefix: recent.subjectPrefix,
      durableName: 'back-in-time',
      deliverFrom: 'new' as const,
      catchUp: { lastHandledPosition: () => lastHandled },
      handler: (delivery: TokenEventDelivery) => {
        handled.push(delivery);
        lastHandled = delivery.position;
      },
    };
    const first = await consumeTokenEvents(options);
    await recentClient.createToken();
    await eventually('handled', async () => (handled.length === 1 ? true : undefined));
    await first.stop();
    const meanwhile = await recentClient.createToken();
    const back = await consumeTokenEvents(options);
    try {
      await eventually('the creation made while away arrived', async () => (handled.length === 2 ? true : undefined));
      expect(back.caughtUp).toBe(0);
      expect(handled[1]).toMatchObject({ source: 'jetstream', event: { data: { tokenId: bare(meanwhile.id) } } });
    } finally {
      await back.stop();
    }
  });

  it('serves the stored events exactly as their JetStream messages carry them, page by page, and refuses a bad position', async () => {
    const jsm = await nats.jetstreamManager();
    const publishedBefore = (await jsm.streams.info(recent.streamName)).state.last_seq;
    const token = await recentClient.createToken();
    await recentClient.completeToken(token.id, { approved: true });
    const messages = await eventually('both events were published', async () => {
      const { state } = await jsm.streams.info(recent.streamName);
      if (state.last_seq < publishedBefore + 2) return undefined;
      const all = [];
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) all.push(await jsm.streams.getMessage(recent.streamName, { seq }));
      return all;
    });
    // The relay writes its checkpoint shortly after publishing; the query serves up to it.
    const pages = await eventually('the stored events caught up with the stream', async () => {
      const first = await requestStoredEvents(nats, recent.subjectPrefix, { after: BEFORE_FIRST_EVENT, limit: messages.length - 1 });
      if (first.events.length < messages.length - 1) return undefined;
      const rest = await requestStoredEvents(nats, recent.subjectPrefix, { after: first.events[first.events.length - 1].position });
      return first.events.length + rest.events.length === messages.length ? [first, rest] : undefined;
    });
    expect(pages.map((page) => page.more)).toEqual([true, false]);
    const stored = pages.flatMap((page) => page.events);
    expect(stored.map((s) => s.event)).toEqual(messages.map((m) => m.json()));
    expect(stored.map((s) => s.position)).toEqual(messages.map((m) => m.header.get(OUTBOX_POSITION_HEADER)));
    await expect(requestStoredEvents(nats, recent.subjectPrefix, { after: '12-34' })).rejects.toThrow(/after must be an outbox position/);
    await expect(requestStoredEvents(nats, recent.subjectPrefix, { after: BEFORE_FIRST_EVENT, limit: 5000 })).rejects.toThrow(
      /limit must be a whole number from 1 to 1000/,
    );
  });
});
