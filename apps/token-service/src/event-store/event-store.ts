import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import {
  CURRENT_SCHEMA_VERSION,
  EventEnvelope,
  MessageMetadata,
  TokenEvent,
} from '@waitpoints/contracts';

/** The append lost a race: another writer moved the stream (or took a reservation) first. */
export class ConcurrencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConcurrencyError';
  }
}

interface EventRow {
  global_position: string;
  stream_id: string;
  stream_version: number;
  event_id: string;
  event_type: TokenEvent['type'];
  schema_version: number;
  data: TokenEvent['data'];
  metadata: MessageMetadata;
  recorded_at: Date;
}

export function toEnvelope(row: EventRow): EventEnvelope {
  return {
    eventId: row.event_id,
    type: row.event_type,
    schemaVersion: row.schema_version,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    globalPosition: String(row.global_position),
    data: row.data,
    metadata: row.metadata,
    recordedAt: new Date(row.recorded_at).toISOString(),
  } as EventEnvelope;
}

export const toDomainEvent = (envelope: EventEnvelope): TokenEvent =>
  ({ type: envelope.type, data: envelope.data }) as TokenEvent;

const EVENT_COLUMNS = `global_position::text AS global_position, stream_id, stream_version, event_id,
  event_type, schema_version, data, metadata, recorded_at`;

/**
 * Append-only event store on PostgreSQL. Versions count events: a stream that does not
 * exist is at version 0 and its first event has version 1. The unique
 * (stream_id, stream_version) constraint is the optimistic-concurrency check.
 */
export class EventStore {
  constructor(private readonly newEventId: () => string = randomUUID) {}

  async readStream(m: EntityManager, streamId: string): Promise<{ events: EventEnvelope[]; version: number }> {
    const rows: EventRow[] = await m.query(
      `SELECT ${EVENT_COLUMNS} FROM es_events WHERE stream_id = $1 ORDER BY stream_version`,
      [streamId],
    );
    const events = rows.map(toEnvelope);
    return { events, version: events.length === 0 ? 0 : events[events.length - 1].streamVersion };
  }

  /** Must run inside the caller's transaction, with the projection writes that go with it. */
  async append(
    m: EntityManager,
    streamId: string,
    expectedVersion: number,
    events: TokenEvent[],
    metadata: MessageMetadata,
  ): Promise<EventEnvelope[]> {
    try {
      const rows: EventRow[] = await m.query(
        `INSERT INTO es_events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
         SELECT $1, $2::int + e.ord::int, e.event_id, e.event_type, $3, e.data, $4::jsonb
         FROM unnest($5::uuid[], $6::text[], $7::jsonb[]) WITH ORDINALITY AS e(event_id, event_type, data, ord)
         ORDER BY e.ord
         RETURNING ${EVENT_COLUMNS}`,
        [
          streamId,
          expectedVersion,
          CURRENT_SCHEMA_VERSION,
          JSON.stringify(metadata),
          events.map(() => this.newEventId()),
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e.data)),
        ],
      );
      return rows.map(toEnvelope).sort((a, b) => a.streamVersion - b.streamVersion);
    } catch (error) {
      if (isUniqueViolation(error, 'es_events_stream_version_unique')) {
        throw new ConcurrencyError(`stream ${streamId} moved past version ${expectedVersion}`);
      }
      throw error;
    }
  }
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const driverError = (error as { driverError?: { code?: string; constraint?: string } }).driverError ?? error;
  const { code, constraint: violated } = driverError as { code?: string; constraint?: string };
  return code === '23505' && (constraint === undefined || violated === constraint);
}
