import { Client } from 'pg';
import { eventSubjects } from '@waitpoints/contracts';
import { TokenCommandHandler } from '../../apps/token-service/src/commands/token-command-handler';
import { JetStreamPublisher } from '../../apps/token-service/src/outbox/jetstream-publisher';
import { OutboxRelay } from '../../apps/token-service/src/outbox/outbox-relay';
import { eventually, readStream, streamMessageCount } from '../support/jetstream';
import { RunningSystem, startSystem } from '../support/system';

const metadata = { correlationId: 'outbox-test', actor: { type: 'api_key' as const, id: 'dev' } };

describe('outbox: every stored event reaches JetStream exactly once', () => {
  let system: RunningSystem;
  let commands: TokenCommandHandler;

  beforeAll(async () => {
    system = await startSystem();
    commands = system.tokenService.get(TokenCommandHandler);
  });

  afterAll(async () => {
    await system?.stop();
  });

  async function storedEventIds(): Promise<string[]> {
    const pg = new Client({ connectionString: system.databaseUrl });
    await pg.connect();
    try {
      const { rows } = await pg.query(`SELECT event_id FROM es_events ORDER BY transaction_id, global_position`);
      return rows.map((r) => r.event_id);
    } finally {
      await pg.end();
    }
  }

  async function createAndComplete(count: number): Promise<string[]> {
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const { token } = await commands.create({
          environment: 'dev',
          idempotencyKeyTTLMs: 3_600_000,
          timeout: { afterMs: 600_000 },
          tags: [`batch-${i % 3}`],
          metadata,
        });
        ids.push(token.id);
        if (i % 2 === 0) {
          await commands.complete({
            environment: 'dev',
            tokenId: token.id,
            output: '1',
            outputType: 'application/json',
            channel: 'api',
            metadata,
          });
        }
      }),
    );
    return ids;
  }

  it('publishes each event with its event id as Nats-Msg-Id, on subjects per kind, environment and token', async () => {
    const [tokenId] = await createAndComplete(1);
    const messages = await eventually(async () => {
      const all = await readStream(system.streamName, eventSubjects(system.subjectPrefix).forToken(tokenId));
      expect(all).toHaveLength(2);
      return all;
    });
    expect(messages.map((m) => m.envelope.type)).toEqual(['TokenCreated', 'TokenCompleted']);
    for (const message of messages) expect(message.msgId).toBe(message.envelope.eventId);
    expect(messages[1].subject).toBe(`${system.subjectPrefix}.evt.token.completed.dev.${tokenId}`);
    expect(messages[0].envelope.metadata).toEqual(metadata);
  });

  it('lets a subscriber take every completion with one wildcard', async () => {
    await createAndComplete(6);
    // Read only once the relay has published every stored event: a read taken before the count
    // matched could miss completions that were still in the outbox (seen under a loaded machine).
    const completions = await eventually(async () => {
      const stored = await storedEventIds();
      expect(await streamMessageCount(system.streamName)).toBe(stored.length);
      return readStream(system.streamName, eventSubjects(system.subjectPrefix).allOfKind('completed'));
    });
    expect(completions.length).toBeGreaterThanOrEqual(4);
    expect(completions.every((m) => m.envelope.type === 'TokenCompleted')).toBe(true);
  });

  it('publishes in store order and loses nothing under concurrent writers', async () => {
    await createAndComplete(60);
    const stored = await storedEventIds();
    const published = await eventually(async () => {
      const all = await readStream(system.streamName);
      expect(all).toHaveLength(stored.length);
      return all;
    }, 10_000);
    expect(published.map((m) => m.envelope.eventId)).toEqual(stored);
  });

  it('publishes an output too large for one NATS message as a reference into the outputs object store', async () => {
    const { token } = await commands.create({
      environment: 'dev',
      idempotencyKeyTTLMs: 1,
      timeout: { afterMs: 60_000 },
      tags: [],
      metadata,
    });
    const output = JSON.stringify({ blob: 'y'.repeat(600 * 1024) });
    await commands.complete({ environment: 'dev', tokenId: token.id, output, outputType: 'application/json', channel: 'api', metadata });
    const [completion] = await eventually(async () => {
      const messages = await readStream(system.streamName, `${system.subjectPrefix}.evt.token.completed.dev.${token.id}`);
      expect(messages).toHaveLength(1);
      return messages;
    });
    expect(completion.envelope.data).not.toHaveProperty('output');
    const outputRef = (completion.envelope.data as { outputRef: string }).outputRef;
    expect(outputRef).toBe(`event-${completion.envelope.eventId}`);
    expect(await system.tokenService.get(JetStreamPublisher).outputs.readEventOutput(outputRef)).toBe(output);
  });

  it('publishes nothing twice when a relay re-sends after a crash before its checkpoint', async () => {
    const relay = system.tokenService.get(OutboxRelay);
    const before = await eventually(async () => {
      const stored = await storedEventIds();
      expect(await streamMessageCount(system.streamName)).toBe(stored.length);
      return stored.length;
    });
    // Simulate the crash window: the checkpoint falls back as if the last batch was never recorded.
    await relay.stop();
    const pg = new Client({ connectionString: system.databaseUrl });
    await pg.connect();
    await pg.query(`UPDATE es_checkpoints SET last_transaction_id = '0', last_global_position = 0`);
    await pg.end();
    const publishedBefore = relay.published;
    relay.start();
    await eventually(async () => expect(relay.published - publishedBefore).toBe(before), 10_000);
    expect(await streamMessageCount(system.streamName)).toBe(before);
  });
});

describe('outbox: commits that come close together go out together', () => {
  const GATHER_MS = 400;
  let system: RunningSystem;

  beforeAll(async () => {
    system = await startSystem({ env: { OUTBOX_GATHER_MS: String(GATHER_MS) } });
  });

  afterAll(async () => {
    await system?.stop();
  });

  it('reads the commits of one window together: one read and one JetStream write for several commits', async () => {
    const commands = system.tokenService.get(TokenCommandHandler);
    const publisher = system.tokenService.get(JetStreamPublisher);
    const create = () =>
      commands.create({ environment: 'dev', idempotencyKeyTTLMs: 3_600_000, timeout: { afterMs: 600_000 }, tags: [], metadata });
    // The relay is running (leader, connected to JetStream) once a first event went out.
    await create();
    await eventually(async () => expect(await streamMessageCount(system.streamName)).toBe(1));
    const batches: number[] = [];
    const publishAll = publisher.publishAll.bind(publisher);
    jest.spyOn(publisher, 'publishAll').mockImplementation(async (envelopes) => {
      batches.push(envelopes.length);
      return publishAll(envelopes);
    });

    // Six commits one after the other, each woken the relay: the first may go out alone (the
    // window starts after a read that published), the others wait for the window and share a read.
    for (let i = 0; i < 6; i++) await create();
    await eventually(async () => expect(batches.reduce((sum, n) => sum + n, 0)).toBe(6));
    expect(batches.length).toBeLessThanOrEqual(2);
    expect(await streamMessageCount(system.streamName)).toBe(7);
  });
});
