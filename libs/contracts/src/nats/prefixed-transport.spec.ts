import { NatsUnreachableError, PrefixedNatsClient } from './prefixed-transport';

describe('PrefixedNatsClient while NATS is unreachable', () => {
  it('rejects with a NatsUnreachableError instead of the bare string Nest uses', async () => {
    const client = new PrefixedNatsClient('test', { servers: ['nats://127.0.0.1:1'] });
    // What Nest's client holds after a "disconnect" status, until it reconnects.
    const lost = Promise.reject('Error: Connection lost. Trying to reconnect...');
    lost.catch(() => undefined);
    (client as unknown as { connectionPromise: Promise<unknown> }).connectionPromise = lost;

    const error = await client.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatsUnreachableError);
    expect((error as Error).message).toBe('NATS is unreachable (Connection lost. Trying to reconnect...)');
  });
});
