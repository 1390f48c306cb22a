import type { NatsConnection } from 'nats';
import { EventEnvelope } from '@waitpoints/contracts';
import { JetStreamPublisher } from './jetstream-publisher';

/** A NATS connection that records what is published on it. */
function recordingConnection() {
  const published: string[] = [];
  const connection = { isClosed: () => false, publish: (subject: string) => void published.push(subject) };
  return { connection: connection as unknown as NatsConnection, published };
}

const event = (type: EventEnvelope['type'], tokenId: string): EventEnvelope =>
  ({
    eventId: `${type}-${tokenId}`,
    type,
    schemaVersion: 1,
    streamId: `token-${tokenId}`,
    streamVersion: type === 'TokenCreated' ? 1 : 2,
    globalPosition: '1',
    data: { tokenId, environment: 'dev' },
    metadata: { correlationId: 'spec', actor: { type: 'operator' } },
    recordedAt: new Date().toISOString(),
  }) as unknown as EventEnvelope;

describe('live announcements', () => {
  const publisher = () =>
    new JetStreamPublisher({ servers: [], subjectPrefix: 'wp', replicas: 1, duplicateWindowMs: 120_000, maxAgeMs: 0 });

  it("wait for the reply and leave on its connection, before it: creations are not announced; a follower's commit wakes the leader", () => {
    const live = publisher();
    live.announce([event('TokenCreated', 'a'), event('TokenCompleted', 'b'), event('TokenCancelled', 'c')], { wakeLeader: true });
    const reply = recordingConnection();
    live.sendAnnouncements(reply.connection);
    expect(reply.published).toEqual(['wp.live.token.completed.dev.b', 'wp.live.token.cancelled.dev.c', 'wp.live.commit']);
    live.sendAnnouncements(reply.connection);
    expect(reply.published).toHaveLength(3);
  });

  it('go out by themselves at the end of the event loop turn when no reply follows the commit', async () => {
    const live = publisher();
    const own = recordingConnection();
    (live as unknown as { connection: NatsConnection }).connection = own.connection;
    live.announce([event('TokenTimedOut', 'd')], { wakeLeader: false });
    expect(own.published).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(own.published).toEqual(['wp.live.token.timed_out.dev.d']);
  });
});
