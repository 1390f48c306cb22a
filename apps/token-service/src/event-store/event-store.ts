import { CURRENT_SCHEMA_VERSION, EventEnvelope, MessageMetadata, TokenEvent } from '@waitpoints/contracts';
import type { Sql, SqlStatement } from '../database/database';
import { PROJECTION_CHECK, PROJECTION_CTES } from '../projections/token-projection';

/**
 * The event store on PostgreSQL (`es_events`): append-only, one row per event. Versions count
 * a stream's events: a stream that does not exist is at version 0 and its first event is
 * version 1. The unique (stream_id, stream_version) constraint is the optimistic-concurrency
 * check: two writers that decided on the same version cannot both append.
 */

export interface EventRow {
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

export const EVENT_COLUMNS = `global_position::text AS global_position, stream_id, stream_version, event_id,
  event_type, schema_version, data, metadata, recorded_at`;

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

export const toDomainEvent = (envelope: EventEnvelope): TokenEvent => ({ type: envelope.type, data: envelope.data }) as TokenEvent;

export interface StoredStream {
  events: EventEnvelope[];
  /** The version the next append must expect (0 for a stream with no events). */
  version: number;
}

/** Every event of each given stream, in version order (a stream without events is absent). */
export async function readStreams(sql: Sql, streamIds: string[]): Promise<Map<string, StoredStream>> {
  const rows = await sql.query<EventRow>({
    name: 'waitpoints-read-streams-v2',
    text: `SELECT ${EVENT_COLUMNS} FROM es_events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`,
    values: [streamIds],
  });
  const streams = new Map<string, StoredStream>();
  for (const envelope of rows.map(toEnvelope)) {
    const stream = streams.get(envelope.streamId) ?? { events: [], version: 0 };
    stream.events.push(envelope);
    stream.version = envelope.streamVersion;
    streams.set(envelope.streamId, stream);
  }
  return streams;
}

/** One decided event for one stream, expected to follow `expectedVersion`. */
export interface StreamAppend {
  streamId: string;
  expectedVersion: number;
  eventId: string;
  event: TokenEvent;
  metadata: MessageMetadata;
}

export interface AppendResult {
  /** The events stored, as the outbox will publish them. */
  stored: EventEnvelope[];
  /** Streams that had moved past their expected version: nothing was written for them. */
  lostStreamIds: string[];
}

/**
 * The one append: one event to each of many streams, and their inline projection, in one
 * statement (so one round trip and one commit). A stream that moved since it was read is
 * skipped, not failed; the caller decides its command again from a fresh read.
 *
 * One event per stream is what makes skipping safe (with several, a conflict on the first
 * could let a later one in and leave a gap), and it is what the projection requires. Rows go
 * in stream order, so two appends touching the same streams wait for each other instead of
 * deadlocking.
 */
export async function appendToStreams(sql: Sql, appends: StreamAppend[]): Promise<AppendResult> {
  if (appends.length === 0) return { stored: [], lostStreamIds: [] };
  const rows = await sql.query<EventRow>(appendStatement(appends));
  const stored = rows.map(toEnvelope);
  const won = new Set(stored.map((envelope) => envelope.streamId));
  return { stored, lostStreamIds: appends.map((a) => a.streamId).filter((id) => !won.has(id)) };
}

/**
 * The second expectation of an append, besides the stream version: a timeout decided on a
 * heartbeat deadline (`TokenTimedOut.data.heartbeatDeadline`) stands only if no heartbeat moved
 * that deadline meanwhile. Heartbeats are not events, so the stream version cannot tell; the
 * token's row can. Its lock waits for a heartbeat in progress and then reads what that heartbeat
 * committed (READ COMMITTED re-reads a locked row that changed), so either the heartbeat is seen
 * here and the timeout is not stored (the stream counts as lost: the command is decided again
 * on a fresh read), or the heartbeat comes after the commit and finds the token finished.
 */
const HEARTBEAT_PRECONDITION = `
        SELECT t.id, t.heartbeat_deadline FROM waitpoint_tokens t JOIN input i ON t.id = i.data->>'tokenId'
         WHERE i.event_type = 'TokenTimedOut' AND i.data ? 'heartbeatDeadline'
         ORDER BY t.id FOR UPDATE OF t`;

export function appendStatement(appends: StreamAppend[]): SqlStatement {
  const ordered = [...appends].sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
  for (let i = 1; i < ordered.length; i++) {
    if (ordered[i].streamId === ordered[i - 1].streamId) {
      throw new Error(`two events for stream ${ordered[i].streamId} in one append; append them one after the other`);
    }
  }
  return {
    name: 'waitpoints-append-v2',
    text: `
      WITH input AS (
        SELECT * FROM unnest($2::text[], $3::int[], $4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[]) WITH ORDINALITY
          AS i(stream_id, expected_version, event_id, event_type, data, metadata, ord)
      ), heartbeats AS (
        ${HEARTBEAT_PRECONDITION}
      ), source AS (
        INSERT INTO es_events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
        SELECT i.stream_id, i.expected_version + 1, i.event_id, i.event_type, $1, i.data, i.metadata
          FROM input i
         WHERE NOT EXISTS (SELECT 1 FROM heartbeats h WHERE h.id = i.data->>'tokenId'
                              AND h.heartbeat_deadline > (i.data->>'heartbeatDeadline')::timestamptz)
         ORDER BY i.ord
        ON CONFLICT ON CONSTRAINT es_events_stream_version_unique DO NOTHING
        RETURNING global_position, stream_id, stream_version, event_id, event_type, schema_version, data, metadata, recorded_at
      ), ${PROJECTION_CTES}
      SELECT ${EVENT_COLUMNS} FROM source CROSS JOIN ${PROJECTION_CHECK} ORDER BY source.global_position`,
    values: [
      CURRENT_SCHEMA_VERSION,
      ordered.map((a) => a.streamId),
      ordered.map((a) => a.expectedVersion),
      ordered.map((a) => a.eventId),
      ordered.map((a) => a.event.type),
      ordered.map((a) => JSON.stringify(a.event.data)),
      ordered.map((a) => JSON.stringify(a.metadata)),
    ],
  };
}
