import { TokenCreated, TokenView } from '@waitpoints/contracts';
import type { Sql, SqlStatement } from '../database/database';

/**
 * The token projection: what every event writes into the read tables (`waitpoint_tokens`,
 * `waitpoint_idempotency_keys`, `waitpoint_request_keys`), written once, as SQL.
 *
 * It reads the events to project from a relation named `source` (columns `stream_version`,
 * `event_type`, `data`) and is composed into other statements as common table expressions:
 * - the event store's append puts it after the INSERT into es_events (`source` = the rows just
 *   appended), so a command's events and their projection commit in one statement;
 * - a replay (projections:rebuild / verify) feeds stored events as `source` (see projectStoredEvents).
 *
 * Rule of use: `source` holds at most one event per token and per key (the data-modifying
 * CTEs of one statement cannot see each other's writes). A command decides at most one event,
 * so a batch of commands qualifies; a replay splits its events into such waves.
 *
 * Invariant kept here: a key is reserved by one token at a time. A create whose idempotency
 * key is held (unexpired) by another token, or whose request key is taken, fails the whole
 * statement with a unique violation (23505): nothing is written, and the command is decided
 * again from a fresh read, which finds the winner.
 */
export const PROJECTION_CTES = `
  projected_created AS (
    -- A heartbeat token's first heartbeat clock starts at its creation; heartbeats (not events)
    -- move heartbeat_deadline later with an UPDATE of their own (see TokenHeartbeats).
    INSERT INTO waitpoint_tokens (id, environment, status, idempotency_key, idempotency_key_expires_at,
                                  timeout_at, tags, created_at, updated_at, version, approval,
                                  heartbeat_timeout_ms, heartbeat_deadline)
    SELECT s.data->>'tokenId', s.data->>'environment', 'WAITING', s.data->>'idempotencyKey',
           (s.data->>'idempotencyKeyExpiresAt')::timestamptz, (s.data->>'timeoutAt')::timestamptz,
           ARRAY(SELECT jsonb_array_elements_text(s.data->'tags')),
           (s.data->>'createdAt')::timestamptz, (s.data->>'createdAt')::timestamptz, s.stream_version,
           s.data->'approval',
           (s.data->>'heartbeatTimeoutMs')::bigint,
           (s.data->>'createdAt')::timestamptz + (s.data->>'heartbeatTimeoutMs')::bigint * interval '1 millisecond'
      FROM source s WHERE s.event_type = 'TokenCreated'
    RETURNING 1
  ), projected_extended AS (
    UPDATE waitpoint_tokens t
       SET timeout_at = (s.data->>'timeoutAt')::timestamptz,
           updated_at = (s.data->>'extendedAt')::timestamptz,
           version = s.stream_version
      FROM source s
     WHERE s.event_type = 'TokenDeadlineExtended' AND t.id = s.data->>'tokenId'
    RETURNING 1
  ), projected_finished AS (
    -- One mapping from terminal event to columns, for every terminal event type.
    UPDATE waitpoint_tokens t
       SET status = CASE s.event_type WHEN 'TokenCompleted' THEN 'COMPLETED' WHEN 'TokenTimedOut' THEN 'TIMED_OUT'
                                      WHEN 'TokenCancelled' THEN 'CANCELLED' WHEN 'TokenRejected' THEN 'REJECTED' END,
           completed_at = COALESCE(s.data->>'completedAt', s.data->>'timedOutAt', s.data->>'cancelledAt',
                                   s.data->>'rejectedAt')::timestamptz,
           updated_at = COALESCE(s.data->>'completedAt', s.data->>'timedOutAt', s.data->>'cancelledAt',
                                 s.data->>'rejectedAt')::timestamptz,
           output = s.data->>'output',
           output_type = COALESCE(s.data->>'outputType', 'application/json'),
           output_is_error = s.event_type <> 'TokenCompleted',
           completed_by = CASE s.event_type
                            WHEN 'TokenCompleted' THEN s.data->>'channel'
                            WHEN 'TokenRejected' THEN s.data->>'channel'
                            WHEN 'TokenTimedOut' THEN CASE WHEN (s.data->>'forced')::boolean THEN 'operator' ELSE 'scheduler' END
                            ELSE 'operator' END,
           version = s.stream_version
      FROM source s
     WHERE s.event_type NOT IN ('TokenCreated', 'TokenDeadlineExtended') AND t.id = s.data->>'tokenId'
    RETURNING 1
  ), keyed_creates AS (
    SELECT s.data->>'environment' AS environment, s.data->>'idempotencyKey' AS idempotency_key,
           s.data->>'tokenId' AS token_id, (s.data->>'idempotencyKeyExpiresAt')::timestamptz AS expires_at,
           (s.data->>'createdAt')::timestamptz AS created_at
      FROM source s WHERE s.event_type = 'TokenCreated' AND s.data ? 'idempotencyKey'
  ), idempotency_keys_taken_over AS (
    -- A reservation that had expired when the token was created passes to it.
    UPDATE waitpoint_idempotency_keys k SET token_id = c.token_id, expires_at = c.expires_at
      FROM keyed_creates c
     WHERE k.environment = c.environment AND k.idempotency_key = c.idempotency_key AND k.expires_at <= c.created_at
    RETURNING 1
  ), idempotency_keys_reserved AS (
    INSERT INTO waitpoint_idempotency_keys (environment, idempotency_key, token_id, expires_at)
    SELECT environment, idempotency_key, token_id, expires_at FROM keyed_creates
    ON CONFLICT (environment, idempotency_key) DO NOTHING
    RETURNING 1
  ), request_keys_recorded AS (
    INSERT INTO waitpoint_request_keys (environment, request_key, token_id, created_at)
    SELECT s.data->>'environment', s.data->>'requestIdempotencyKey', s.data->>'tokenId', (s.data->>'createdAt')::timestamptz
      FROM source s WHERE s.event_type = 'TokenCreated' AND s.data ? 'requestIdempotencyKey'
    ON CONFLICT (environment, request_key) DO NOTHING
    RETURNING 1
  ), projection_checked AS (
    SELECT waitpoints_require_keys(
      (SELECT count(*) FROM keyed_creates),
      (SELECT count(*) FROM idempotency_keys_taken_over) + (SELECT count(*) FROM idempotency_keys_reserved),
      (SELECT count(*) FROM source s WHERE s.event_type = 'TokenCreated' AND s.data ? 'requestIdempotencyKey'),
      (SELECT count(*) FROM request_keys_recorded)) AS ok
  )`;

/**
 * A FROM item that makes the statement evaluate the key check (a CTE that is not referenced
 * is never run): join it once, as `CROSS JOIN ${PROJECTION_CHECK}`.
 */
export const PROJECTION_CHECK = `projection_checked`;

/**
 * What a replay needs to know of a stored event before projecting it: where it is, and which
 * token and keys it touches (to cut waves). The event's data stays in the database.
 */
export interface StoredEventKeys {
  globalPosition: string;
  streamId: string;
  eventType: string;
  environment: string | null;
  idempotencyKey: string | null;
  requestKey: string | null;
}

/** Selects StoredEventKeys from `es_events` (alias `e`). */
export const STORED_EVENT_KEYS = `e.global_position::text AS "globalPosition", e.stream_id AS "streamId", e.event_type AS "eventType",
  e.data->>'environment' AS environment, e.data->>'idempotencyKey' AS "idempotencyKey",
  e.data->>'requestIdempotencyKey' AS "requestKey"`;

/**
 * Projects stored events, in their global order, into the tables the session's search_path
 * points at: the replay of projections:rebuild and projections:verify, through the very SQL
 * the live appends compose. Events are cut into waves that hold at most one event per token
 * and per key, each wave one statement, in order. The statement reads the events' data from
 * `es_events` by position, so it is never shipped to the client and back: a wave of tens of
 * thousands of events is one set-based INSERT and two UPDATEs. Every event named here is
 * committed (the caller's snapshot saw it), and events are never changed, so this
 * transaction reads exactly what that snapshot saw.
 */
export async function projectStoredEvents(sql: Sql, events: StoredEventKeys[]): Promise<void> {
  for (const wave of projectionWaves(events)) {
    await sql.query(replayStatement(wave.map((event) => event.globalPosition)));
  }
}

function replayStatement(globalPositions: string[]): SqlStatement {
  return {
    // Unnamed: a replay runs under another search_path than the service's statements.
    text: `
      WITH source AS (
        SELECT e.stream_version, e.event_type, e.data FROM es_events e WHERE e.global_position = ANY($1::bigint[])
      ), ${PROJECTION_CTES}
      SELECT count(*) FROM source CROSS JOIN ${PROJECTION_CHECK}`,
    values: [globalPositions],
  };
}

/**
 * Splits events (in order) into consecutive waves in which no token, idempotency key or
 * request key appears twice; projecting the waves in order equals projecting event by event.
 */
export function projectionWaves<E extends StoredEventKeys>(events: E[]): E[][] {
  const waves: E[][] = [];
  let wave: E[] = [];
  let keys = new Set<string>();
  for (const event of events) {
    const touched = keysOf(event);
    if (touched.some((key) => keys.has(key))) {
      waves.push(wave);
      wave = [];
      keys = new Set();
    }
    wave.push(event);
    for (const key of touched) keys.add(key);
  }
  if (wave.length > 0) waves.push(wave);
  return waves;
}

function keysOf(event: StoredEventKeys): string[] {
  // One stream per token: the stream id names the token.
  const keys = [`stream:${event.streamId}`];
  if (event.eventType === 'TokenCreated') {
    if (event.idempotencyKey !== null) keys.push(`idempotency:${event.environment}:${event.idempotencyKey}`);
    if (event.requestKey !== null) keys.push(`request:${event.environment}:${event.requestKey}`);
  }
  return keys;
}

/** The token as its creation left it: what a create answers (the projection wrote the same row). */
export function createdTokenView(event: TokenCreated, version: number): TokenView {
  const d = event.data;
  const view: TokenView = {
    id: d.tokenId,
    environment: d.environment,
    status: 'WAITING',
    timeoutAt: d.timeoutAt,
    outputIsError: false,
    tags: d.tags,
    createdAt: d.createdAt,
    version,
  };
  if (d.heartbeatTimeoutMs !== undefined) {
    view.heartbeatTimeoutMs = d.heartbeatTimeoutMs;
    view.heartbeatDeadline = new Date(Date.parse(d.createdAt) + d.heartbeatTimeoutMs).toISOString();
  }
  if (d.idempotencyKey !== undefined) view.idempotencyKey = d.idempotencyKey;
  if (d.idempotencyKeyExpiresAt !== undefined) view.idempotencyKeyExpiresAt = d.idempotencyKeyExpiresAt;
  if (d.approval !== undefined) view.approval = d.approval;
  return view;
}
