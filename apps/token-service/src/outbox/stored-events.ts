import { Injectable } from '@nestjs/common';
import {
  ErrorCode,
  EventEnvelope,
  parseOutboxPosition,
  STORED_EVENTS_PAGE_BYTES,
  STORED_EVENTS_PAGE_MAX,
  StoredEvent,
  StoredEventsPage,
  StoredEventsQuery,
  WaitpointError,
} from '@waitpoints/contracts';
import { eventOutputObjectName, needsOffload } from '@waitpoints/contracts/nats/output-store';
import { Database } from '../database/database';
import { OutboxRelay } from './outbox-relay';
import { publishedUpTo, readInPublishOrder } from './outbox-reads';

/**
 * Answers `qry.token.stored-events`: a page of the events the outbox has published, after a
 * position, exactly as their JetStream messages carry them. A consumer that was away longer
 * than the stream keeps messages reads what it missed here (nats/event-store-catch-up.ts).
 * It reaches only as far back as the event store keeps events.
 */
@Injectable()
export class StoredEventsReader {
  constructor(
    private readonly db: Database,
    private readonly outbox: OutboxRelay,
  ) {}

  async page(query: StoredEventsQuery): Promise<StoredEventsPage> {
    const after = typeof query?.after === 'string' ? query.after : '';
    if (!parseOutboxPosition(after)) {
      throw new WaitpointError(
        ErrorCode.ValidationFailed,
        `after must be an outbox position (20 digits, "-", 19 digits), not "${after.slice(0, 60)}"`,
      );
    }
    const limit = query.limit ?? STORED_EVENTS_PAGE_MAX;
    if (!Number.isInteger(limit) || limit < 1 || limit > STORED_EVENTS_PAGE_MAX) {
      throw new WaitpointError(ErrorCode.ValidationFailed, `limit must be a whole number from 1 to ${STORED_EVENTS_PAGE_MAX}`);
    }
    // Only what JetStream has: past the relay's checkpoint the consumer gets the events from
    // JetStream anyway, and the object holding a large output exists once the relay published it.
    const upTo = await publishedUpTo(this.db.reads, this.outbox.subscriberId);
    if (upTo === undefined) return { events: [], more: false };
    const read = await readInPublishOrder(this.db.reads, { after, limit, upTo });
    const events: StoredEvent[] = [];
    let bytes = 0;
    for (const stored of read) {
      const event = asPublished(stored.event);
      bytes += Buffer.byteLength(JSON.stringify(event)) + stored.position.length + 32;
      // Always at least one event, so a reader makes progress; the inline output limit keeps one event well under a NATS message.
      if (events.length > 0 && bytes > STORED_EVENTS_PAGE_BYTES) return { events, more: true };
      events.push({ position: stored.position, event });
    }
    return { events, more: read.length === limit };
  }
}

/** The event as its JetStream message carries it: an output too large for one message is a reference to the relay's object. */
function asPublished(envelope: EventEnvelope): EventEnvelope {
  const data = envelope.data as { output?: string };
  if (!needsOffload(data.output)) return envelope;
  const { output: _output, ...rest } = data;
  return { ...envelope, data: { ...rest, outputRef: eventOutputObjectName(envelope.eventId) } } as EventEnvelope;
}
