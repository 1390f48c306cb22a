import {
  CURRENT_SCHEMA_VERSION,
  MessageMetadata,
  TokenCancelled,
  TokenCompleted,
  TokenCreated,
  TokenTimedOut,
  tokenStreamId,
} from '@waitpoints/contracts';
import { TOKEN_VIEW_COLUMNS } from '../projections/token-queries';
import { terminalColumns } from '../projections/terminal-columns';

/**
 * The SQL of batched commands: each statement appends the events of many commands and
 * projects them, in one round trip and one implicit transaction (a statement with
 * data-modifying CTEs commits or fails as a whole). Named, so each pooled connection
 * parses and plans it once. The load benchmark runs the same statements for one command
 * straight against PostgreSQL to measure the ceiling.
 */
export interface SqlStatement {
  name: string;
  text: string;
  values: unknown[];
}

export interface NewToken {
  eventId: string;
  event: TokenCreated;
  metadata: MessageMetadata;
}

/**
 * Appends `TokenCreated` as version 1 of each new stream and inserts the token rows, returning
 * them; records the request idempotency keys (`x-trigger-request-idempotency-key`, sent by the
 * SDKs with every create) in the same statement. Creates with an idempotency key take the
 * one-command path: their reservations may legitimately be taken over. A request key already
 * recorded (an SDK retrying a create that was in fact stored) or a stream that already exists
 * fails the whole statement with a unique violation, and the caller then runs each command on
 * the one-command path, which answers a retry with the token it first created.
 */
export function createTokensStatement(tokens: NewToken[]): SqlStatement {
  return {
    name: 'waitpoints-create-tokens-v2',
    text: `
      WITH input AS (
        SELECT * FROM unnest($2::text[], $3::uuid[], $4::jsonb[], $5::jsonb[]) WITH ORDINALITY
          AS i(stream_id, event_id, data, metadata, ord)
      ), appended AS (
        INSERT INTO es_events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
        SELECT i.stream_id, 1, i.event_id, 'TokenCreated', $1, i.data, i.metadata FROM input i ORDER BY i.ord
        RETURNING data
      ), request_keys AS (
        INSERT INTO waitpoint_request_keys (environment, request_key, token_id, created_at)
        SELECT a.data->>'environment', a.data->>'requestIdempotencyKey', a.data->>'tokenId', (a.data->>'createdAt')::timestamptz
          FROM appended a WHERE a.data ? 'requestIdempotencyKey'
      )
      INSERT INTO waitpoint_tokens (id, environment, status, idempotency_key, idempotency_key_expires_at,
        timeout_at, tags, created_at, updated_at, version)
      SELECT a.data->>'tokenId', a.data->>'environment', 'WAITING', a.data->>'idempotencyKey',
             (a.data->>'idempotencyKeyExpiresAt')::timestamptz, (a.data->>'timeoutAt')::timestamptz,
             ARRAY(SELECT jsonb_array_elements_text(a.data->'tags')),
             (a.data->>'createdAt')::timestamptz, (a.data->>'createdAt')::timestamptz, 1
        FROM appended a
      RETURNING ${TOKEN_VIEW_COLUMNS}`,
    values: [
      CURRENT_SCHEMA_VERSION,
      tokens.map((t) => tokenStreamId(t.event.data.tokenId)),
      tokens.map((t) => t.eventId),
      tokens.map((t) => JSON.stringify(t.event.data)),
      tokens.map((t) => JSON.stringify(t.metadata)),
    ],
  };
}

/** Every stream's events in version order: what a transition decides on. */
export function readStreamsStatement(streamIds: string[]): SqlStatement {
  return {
    name: 'waitpoints-read-streams-v1',
    text: `SELECT global_position::text AS global_position, stream_id, stream_version, event_id,
                  event_type, schema_version, data, metadata, recorded_at
             FROM es_events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`,
    values: [streamIds],
  };
}

export interface TerminalAppend {
  streamId: string;
  expectedVersion: number;
  eventId: string;
  event: TokenCompleted | TokenTimedOut | TokenCancelled;
  metadata: MessageMetadata;
}

/**
 * Appends one terminal event per stream at its expected version and projects it onto the
 * token row. A stream that moved meanwhile (a racing writer stored its terminal event
 * first) is skipped, not failed: the statement returns the streams it appended to, and the
 * caller decides the others again. Rows go in stream order, so two batches touching the
 * same streams wait for each other instead of deadlocking.
 */
export function appendTerminalEventsStatement(appends: TerminalAppend[]): SqlStatement {
  const ordered = [...appends].sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
  const columns = ordered.map((a) => terminalColumns(a.event));
  return {
    name: 'waitpoints-append-terminal-v1',
    text: `
      WITH input AS (
        SELECT * FROM unnest($2::text[], $3::int[], $4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[],
                             $8::text[], $9::timestamptz[], $10::text[], $11::boolean[], $12::text[]) WITH ORDINALITY
          AS i(stream_id, expected_version, event_id, event_type, data, metadata,
               status, finished_at, output_type, output_is_error, completed_by, ord)
      ), appended AS (
        INSERT INTO es_events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
        SELECT i.stream_id, i.expected_version + 1, i.event_id, i.event_type, $1, i.data, i.metadata
          FROM input i ORDER BY i.ord
        ON CONFLICT ON CONSTRAINT es_events_stream_version_unique DO NOTHING
        RETURNING stream_id, stream_version, data->>'tokenId' AS token_id, data->>'output' AS output
      ), projected AS (
        UPDATE waitpoint_tokens t
           SET status = i.status, completed_at = i.finished_at, output = a.output, output_type = i.output_type,
               output_is_error = i.output_is_error, completed_by = i.completed_by, updated_at = i.finished_at,
               version = a.stream_version
          FROM appended a JOIN input i ON i.stream_id = a.stream_id
         WHERE t.id = a.token_id
      )
      SELECT stream_id FROM appended`,
    values: [
      CURRENT_SCHEMA_VERSION,
      ordered.map((a) => a.streamId),
      ordered.map((a) => a.expectedVersion),
      ordered.map((a) => a.eventId),
      ordered.map((a) => a.event.type),
      ordered.map((a) => JSON.stringify(a.event.data)),
      ordered.map((a) => JSON.stringify(a.metadata)),
      columns.map((c) => c.status),
      columns.map((c) => c.finishedAt),
      columns.map((c) => c.outputType),
      columns.map((c) => c.outputIsError),
      columns.map((c) => c.completedBy),
    ],
  };
}
