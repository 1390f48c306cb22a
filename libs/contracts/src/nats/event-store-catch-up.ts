import { NatsConnection } from 'nats';
import { OUTBOX_POSITION_HEADER, OutboxPosition } from '../outbox-position';
import { eventStreamName, TokenQuerySubjects } from '../subjects';
import { STORED_EVENTS_PAGE_MAX, StoredEvent, StoredEventsPage, StoredEventsQuery } from '../messages';
import type { RpcReply } from '../rpc';

/**
 * When a JetStream consumer was away longer than the event stream keeps messages
 * (`JETSTREAM_MAX_AGE`), the events it missed are gone from the stream but not from the event
 * store. This is the one way consumers of this repository get them back:
 *
 * 1. The consumer keeps the position of the last event it handled (every message carries its
 *    `Waitpoints-Outbox-Position` header; keep it with the handler's effects).
 * 2. Before it consumes from JetStream, it calls `catchUpFromEventStore` with that position. If
 *    the oldest message the stream still holds comes after the event that follows it in the
 *    event store, some events aged out: the
 *    token-service hands the events after the position page by page (`qry.token.stored-events`,
 *    the outbox's own read, so the same events in the same order and shape as on JetStream)
 *    up to what the outbox has published so far, and each page goes to `handlePage`.
 * 3. It then consumes from JetStream and skips (acknowledges without handling) every message at
 *    or before the returned position (`alreadyCaughtUp`): those came from the event store.
 *
 * The event store keeps events only as long as token retention does: a consumer away longer
 * than that gets what is left.
 */
export interface CatchUpOptions {
  connection: NatsConnection;
  subjectPrefix: string;
  /** The position of the last event the consumer handled (BEFORE_FIRST_EVENT: it wants every stored event). */
  lastHandled: OutboxPosition;
  /** Events per request (default and most: STORED_EVENTS_PAGE_MAX). */
  pageSize?: number;
  /** How long one request may take (default 30 s). */
  requestTimeoutMs?: number;
  /** Handles one page, in order. A throw ends the catch-up with that error; call again (with the new last position) to resume. */
  handlePage: (events: StoredEvent[]) => Promise<void> | void;
  /** Stops between pages when it turns true (the consumer is stopping). */
  stopped?: () => boolean;
}

export interface CatchUpResult {
  /** Events handed to `handlePage`. */
  caughtUp: number;
  /** Position of the last of them: skip JetStream messages at or before it. Undefined when nothing was missed. */
  until?: OutboxPosition;
}

export async function catchUpFromEventStore(options: CatchUpOptions): Promise<CatchUpResult> {
  const oldest = await oldestPositionInStream(options.connection, eventStreamName(options.subjectPrefix));
  // The stream still holds its first message, or never held one: nothing aged out, and there is
  // no need to ask the token-service (which may not be up yet: a scheduler starting first would
  // otherwise wait for it before learning any deadline).
  if (oldest === KEPT_EVERYTHING) return { caughtUp: 0 };
  // The oldest message predates positions, so it is older than anything a consumer can have recorded.
  if (oldest === null) return { caughtUp: 0 };
  if (oldest !== undefined) {
    if (options.lastHandled >= oldest) return { caughtUp: 0 };
    // JetStream still holds the event that follows lastHandled (a new consumer on a stream that
    // has kept everything, or one back within the window): nothing aged out.
    const next = await requestStoredEvents(
      options.connection,
      options.subjectPrefix,
      { after: options.lastHandled, limit: 1 },
      options.requestTimeoutMs,
    );
    if (next.events.length === 0 || next.events[0].position >= oldest) return { caughtUp: 0 };
  }
  let after = options.lastHandled;
  let caughtUp = 0;
  for (;;) {
    if (options.stopped?.()) break;
    const page = await requestStoredEvents(
      options.connection,
      options.subjectPrefix,
      {
        after,
        limit: options.pageSize ?? STORED_EVENTS_PAGE_MAX,
      },
      options.requestTimeoutMs,
    );
    if (page.events.length > 0) {
      await options.handlePage(page.events);
      caughtUp += page.events.length;
      after = page.events[page.events.length - 1].position;
    }
    if (!page.more) break;
  }
  return { caughtUp, until: caughtUp > 0 ? after : undefined };
}

/** True for a JetStream message that the catch-up already handed over (compare its position header). */
export function alreadyCaughtUp(position: OutboxPosition | undefined, until: OutboxPosition | undefined): boolean {
  return position !== undefined && until !== undefined && position <= until;
}

/** The position header of a JetStream event message (undefined on messages published before positions existed). */
export function positionOf(message: { headers?: { get(name: string): string } }): OutboxPosition | undefined {
  return message.headers?.get(OUTBOX_POSITION_HEADER) || undefined;
}

/** oldestPositionInStream's answer for a stream that has lost no message (its first is still sequence 1, or it is new). */
const KEPT_EVERYTHING = Symbol('kept everything');

/**
 * The position of the oldest message the event stream holds: undefined when it holds none,
 * null when that message has no position (published before positions existed).
 */
async function oldestPositionInStream(
  connection: NatsConnection,
  streamName: string,
): Promise<OutboxPosition | undefined | null | typeof KEPT_EVERYTHING> {
  const jsm = await connection.jetstreamManager();
  // The first message can age out between the two requests: then look again.
  for (let attempt = 0; ; attempt++) {
    const { state } = await jsm.streams.info(streamName);
    if (state.last_seq === 0 || state.first_seq <= 1) return KEPT_EVERYTHING;
    if (state.messages === 0) return undefined;
    try {
      const message = await jsm.streams.getMessage(streamName, { seq: state.first_seq });
      return message.header.get(OUTBOX_POSITION_HEADER) || null;
    } catch (error) {
      if (attempt >= 3 || !/no message found/i.test((error as Error).message)) throw error;
    }
  }
}

/**
 * One `qry.token.stored-events` request. Written against nats.js directly (not Nest's client)
 * so that the SDK can use it too; the body is the packet Nest's NATS transport expects.
 */
export async function requestStoredEvents(
  connection: NatsConnection,
  subjectPrefix: string,
  query: StoredEventsQuery,
  timeoutMs = 30_000,
): Promise<StoredEventsPage> {
  const subject = `${subjectPrefix}.${TokenQuerySubjects.storedEvents}`;
  const packet = { pattern: subject, data: query, id: `catch-up-${Date.now()}-${Math.random().toString(36).slice(2)}` };
  const reply = await connection.request(subject, JSON.stringify(packet), { timeout: timeoutMs });
  const { response, err } = reply.json<{ response?: RpcReply<StoredEventsPage>; err?: unknown }>();
  if (!response) throw new Error(`the token-service could not read stored events: ${JSON.stringify(err ?? 'no reply')}`);
  if (!response.ok) throw new Error(`the token-service could not read stored events: ${response.error.message}`);
  return response.value;
}
