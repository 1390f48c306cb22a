/**
 * consumeTokenEvents (@waitpoints/sdk/events): a durable JetStream consumer for internal
 * services. At least once, explicit ack, redelivery after a crash, repeats recognisable.
 */
import { connect } from 'nats';
import { TokenEventDelivery, consumeTokenEvents } from '@waitpoints/sdk/events';
import { WaitpointsClient } from '@waitpoints/sdk';
import { eventually } from '../support/scheduler';
import { TEST_NATS_URL } from '../support/services';
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

const consumerOptions = () => ({ servers: TEST_NATS_URL, subjectPrefix: system.subjectPrefix });

describe('consuming token events with a durable consumer', () => {
  it('hands each completion to the handler as a typed event, once, and acknowledges it', async () => {
    const seen: TokenEventDelivery[] = [];
    const consumer = await consumeTokenEvents({
      ...consumerOptions(),
      durableName: 'typed-completions',
      kinds: ['completed'],
      handler: (delivery) => {
        seen.push(delivery);
      },
    });
    try {
      const token = await client.createToken({ tags: ['typed'] });
      await client.completeToken(token.id, { approved: true });
      await eventually('the completion was handled', async () => (seen.length >= 1 ? true : undefined));
      const [delivery] = seen;
      expect(delivery).toMatchObject({ deliveryCount: 1, redelivered: false });
      const { event } = delivery;
      expect(event.type).toBe('TokenCompleted');
      if (event.type !== 'TokenCompleted') return;
      // The type narrows `data`: output, channel and completedAt are known fields here.
      expect(event.data).toMatchObject({ tokenId: token.id.replace('waitpoint_', ''), output: '{"approved":true}', channel: 'api' });
      expect(event.eventId).toMatch(/^[0-9a-f-]{36}$/);
      await eventually('acknowledged', async () => (consumer.handled === 1 ? true : undefined));
    } finally {
      await consumer.stop();
    }
  });

  it('gets the event again after a crash before the ack, with the same eventId', async () => {
    // A worker that dies mid-handler: its connection goes away, nothing is acknowledged.
    const crashing = await connect({ servers: TEST_NATS_URL });
    let crashed: TokenEventDelivery | undefined;
    await consumeTokenEvents({
      ...consumerOptions(),
      connection: crashing,
      durableName: 'crash-and-redeliver',
      kinds: ['completed'],
      deliverFrom: 'new',
      ackWait: '1s',
      handler: (delivery) => {
        crashed = delivery;
        return new Promise(() => undefined); // never finishes
      },
    });
    const token = await client.createToken();
    await client.completeToken(token.id, 'first attempt');
    await eventually('the doomed worker received the completion', async () => crashed);
    await crashing.close();

    const handled: TokenEventDelivery[] = [];
    const restarted = await consumeTokenEvents({
      ...consumerOptions(),
      durableName: 'crash-and-redeliver',
      kinds: ['completed'],
      ackWait: '1s',
      handler: (delivery) => {
        handled.push(delivery);
      },
    });
    try {
      const again = await eventually(
        'the restarted worker got the same event',
        async () => handled.find((d) => d.event.eventId === crashed!.event.eventId),
        15_000,
      );
      expect(crashed).toMatchObject({ redelivered: false, deliveryCount: 1 });
      expect(again).toMatchObject({ redelivered: true, deliveryCount: 2 });
      expect(again.event).toEqual(crashed!.event);
    } finally {
      await restarted.stop();
    }
  });

  it('redelivers an event whose handler threw, until it succeeds', async () => {
    const attempts: TokenEventDelivery[] = [];
    const errors: unknown[] = [];
    const consumer = await consumeTokenEvents({
      ...consumerOptions(),
      durableName: 'retry-on-error',
      kinds: ['cancelled'],
      retryDelay: 100,
      onError: (error) => errors.push(error),
      handler: (delivery) => {
        attempts.push(delivery);
        if (attempts.length < 3) throw new Error('downstream unavailable');
      },
    });
    try {
      const token = await client.createToken();
      await client.cancelToken(token.id);
      await eventually('handled on the third attempt', async () => (consumer.handled === 1 ? true : undefined));
      expect(attempts.map((a) => a.deliveryCount)).toEqual([1, 2, 3]);
      expect(new Set(attempts.map((a) => a.event.eventId)).size).toBe(1);
      expect(errors).toHaveLength(2);
    } finally {
      await consumer.stop();
    }
  });

  it('continues after a restart where the last acknowledged event left off, filtered by environment', async () => {
    const handled: string[] = [];
    const options = {
      ...consumerOptions(),
      durableName: 'resume-dev',
      environment: 'dev',
      handler: (delivery: TokenEventDelivery) => {
        handled.push(`${delivery.event.type}:${delivery.event.data.tokenId}`);
      },
    };
    const first = await consumeTokenEvents(options);
    const before = await client.createToken();
    // That very creation: the consumer may start with older events of this file's other tests.
    const bareBefore = before.id.replace('waitpoint_', '');
    await eventually('the first instance handled the creation', async () =>
      handled.includes(`TokenCreated:${bareBefore}`) ? true : undefined,
    );
    await first.stop();

    const prod = new WaitpointsClient({ baseURL: system.baseUrl, secretKey: TEST_KEYS.prod });
    await prod.createToken(); // another environment: never delivered to this consumer
    const during = await client.createToken(); // created while no instance runs
    const second = await consumeTokenEvents(options);
    try {
      const bare = (id: string) => id.replace('waitpoint_', '');
      await eventually('the second instance caught up', async () =>
        handled.includes(`TokenCreated:${bare(during.id)}`) ? true : undefined,
      );
      // Every creation of 'dev' so far, each once; nothing from 'prod'.
      const created = handled.filter((h) => h.startsWith('TokenCreated:'));
      expect(new Set(created).size).toBe(created.length);
      expect(created).toContain(`TokenCreated:${bare(before.id)}`);
      expect(handled.every((h) => !h.includes('prod'))).toBe(true);
    } finally {
      await second.stop();
    }
  });

  it('refuses to reuse a durable name with a different filter', async () => {
    const consumer = await consumeTokenEvents({
      ...consumerOptions(),
      durableName: 'filter-clash',
      kinds: ['completed'],
      handler: () => undefined,
    });
    await consumer.stop();
    await expect(
      consumeTokenEvents({ ...consumerOptions(), durableName: 'filter-clash', kinds: ['created'], handler: () => undefined }),
    ).rejects.toThrow(/already exists with filter/);
  });
});
