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

export const EVENT_COLUMNS = `global_position::text AS global_position, stream_id, stream_version, event_id,
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

  /**
   * Appends one event to each of many streams in one statement. The same optimistic check
   * as `append` (the unique stream version), but a lost race skips only that stream instead
   * of failing them all: the caller re-reads the losers and decides again.
   *
   * One event per stream is what makes skipping safe: with several, a conflict on the first
   * could let a later one in and leave a gap.
   */
  async appendOneEventPerStream(
    m: EntityManager,
    appends: SingleEventAppend[],
    metadata: MessageMetadata,
  ): Promise<{ stored: EventEnvelope[]; lostStreamIds: string[] }> {
    if (appends.length === 0) return { stored: [], lostStreamIds: [] };
    // Stream order is insert (and so lock) order: two batches touching the same streams
    // wait for each other instead of deadlocking.
    const ordered = [...appends].sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
    const rows: EventRow[] = await m.query(
      `INSERT INTO es_events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
       SELECT e.stream_id, e.expected_version + 1, e.event_id, e.event_type, $1, e.data, $2::jsonb
       FROM unnest($3::text[], $4::int[], $5::uuid[], $6::text[], $7::jsonb[]) WITH ORDINALITY
         AS e(stream_id, expected_version, event_id, event_type, data, ord)
       ORDER BY e.ord
       ON CONFLICT ON CONSTRAINT es_events_stream_version_unique DO NOTHING
       RETURNING ${EVENT_COLUMNS}`,
      [
        CURRENT_SCHEMA_VERSION,
        JSON.stringify(metadata),
        ordered.map((a) => a.streamId),
        ordered.map((a) => a.expectedVersion),
        ordered.map(() => this.newEventId()),
        ordered.map((a) => a.event.type),
        ordered.map((a) => JSON.stringify(a.event.data)),
      ],
    );
    const stored = rows.map(toEnvelope);
    const won = new Set(stored.map((e) => e.streamId));
    return { stored, lostStreamIds: ordered.map((a) => a.streamId).filter((id) => !won.has(id)) };
  }

  /** Every event of each given stream, grouped by stream, each in version order. */
  async readStreams(
    m: EntityManager,
    streamIds: string[],
  ): Promise<Map<string, { events: EventEnvelope[]; version: number }>> {
    const rows: EventRow[] = await m.query(
      `SELECT ${EVENT_COLUMNS} FROM es_events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`,
      [streamIds],
    );
    const streams = new Map<string, { events: EventEnvelope[]; version: number }>();
    for (const envelope of rows.map(toEnvelope)) {
      const stream = streams.get(envelope.streamId) ?? { events: [], version: 0 };
      stream.events.push(envelope);
      stream.version = envelope.streamVersion;
      streams.set(envelope.streamId, stream);
    }
    return streams;
  }
}

/** One event for one stream, expected at a given version (see appendOneEventPerStream). */
export interface SingleEventAppend {
  streamId: string;
  expectedVersion: number;
  event: TokenEvent;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const driverError = (error as { driverError?: { code?: string; constraint?: string } }).driverError ?? error;
  const { code, constraint: violated } = driverError as { code?: string; constraint?: string };
  return code === '23505' && (constraint === undefined || violated === constraint);
}
