import { connect, JsMsg, NatsConnection, StringCodec } from 'nats';
import { EventEnvelope } from '@waitpoints/contracts';
import { TEST_NATS_URL } from './services';

const codec = StringCodec();

/** Everything currently stored in a stream (optionally under a subject filter), in order. */
export async function readStream(
  streamName: string,
  filterSubject?: string,
): Promise<{ subject: string; msgId?: string; envelope: EventEnvelope }[]> {
  const nc: NatsConnection = await connect({ servers: TEST_NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(streamName);
    if (info.state.messages === 0) return [];
    const consumer = await nc.jetstream().consumers.get(streamName, {
      filterSubjects: filterSubject,
    });
    const result: { subject: string; msgId?: string; envelope: EventEnvelope }[] = [];
    const messages = await consumer.fetch({ max_messages: 10_000, expires: 1000 });
    for await (const message of messages as AsyncIterable<JsMsg>) {
      result.push({
        subject: message.subject,
        msgId: message.headers?.get('Nats-Msg-Id'),
        envelope: JSON.parse(codec.decode(message.data)),
      });
      if (message.info.pending === 0) break;
    }
    return result;
  } finally {
    await nc.close();
  }
}

export async function streamMessageCount(streamName: string): Promise<number> {
  const nc = await connect({ servers: TEST_NATS_URL });
  try {
    return (await (await nc.jetstreamManager()).streams.info(streamName)).state.messages;
  } finally {
    await nc.close();
  }
}

/** Polls until the check passes or the time is up (then the last failure is thrown). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}
