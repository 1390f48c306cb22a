import { Client } from 'pg';

/**
 * Seeds tokens straight into a migrated token-service database, in the format the service
 * writes (see token-projection.ts and libs/contracts/src/events.ts): every token has its
 * `TokenCreated` event, a finished one its terminal event too, and the projection row (and
 * idempotency-key reservation) those events project to. Done with `INSERT … SELECT` over
 * `generate_series`, a chunk per statement, so a million tokens take a minute or two, not hours.
 *
 * The data:
 * - creation times spread evenly over the 30 days before `now` (ids are ULIDs of those times,
 *   so the id order is the creation order, as the service's ids are);
 * - status mix: 10 % WAITING, 70 % COMPLETED, 15 % TIMED_OUT, 5 % CANCELLED (a token whose
 *   terminal time would be after `now` is still WAITING);
 * - tags: every token one of four common tags (`kind:0` … `kind:3`, 25 % each); every second
 *   token also a rare one, `customer:<k>`, shared by about ten tokens spread over the 30 days;
 * - every fifth token an idempotency key `order-<n>` (reserved in waitpoint_idempotency_keys).
 */
export interface SeedOptions {
  environment: string;
  tokens: number;
  now?: Date;
  /** Rows per statement. */
  chunk?: number;
  onProgress?: (seeded: number) => void;
}

export const COMMON_TAGS = ['kind:0', 'kind:1', 'kind:2', 'kind:3'];
/** A tag with about ten tokens (see the tag rule above). */
export const rareTag = (tokens: number, k = 7) => `customer:${k % rareTagCount(tokens)}`;
const rareTagCount = (tokens: number) => Math.max(1, Math.floor(tokens / 20));

const DAY_MS = 86_400_000;

export async function seedTokens(client: Client, options: SeedOptions): Promise<void> {
  const { environment, tokens } = options;
  const now = options.now ?? new Date();
  const chunk = options.chunk ?? 100_000;
  const start = now.getTime() - 30 * DAY_MS;
  await client.query(`SET synchronous_commit = off`);
  await client.query(`
    CREATE OR REPLACE FUNCTION pg_temp.b32(v bigint, len int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
      SELECT string_agg(substr('0123456789abcdefghjkmnpqrstvwxyz', ((v >> (5 * (len - 1 - k))) & 31)::int + 1, 1), '' ORDER BY k)
        FROM generate_series(0, len - 1) k $$`);
  await client.query(`
    CREATE OR REPLACE FUNCTION pg_temp.iso(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
      SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$`);
  for (let from = 1; from <= tokens; from += chunk) {
    const to = Math.min(tokens, from + chunk - 1);
    await client.query('BEGIN');
    await client.query(`DROP TABLE IF EXISTS pg_temp.seed`);
    // One row per token with every value its events and projection row need.
    await client.query(
      `CREATE TEMP TABLE seed ON COMMIT DROP AS
       WITH g AS (
         -- Whole milliseconds, as the service's times are (events carry them as ISO strings with
         -- milliseconds; a finer time in the row would not match a replay of its events).
         SELECT i, to_timestamp(floor($3::float8 + (i - 1) * ($4::float8 - $3::float8) / $2) / 1000) AS created_at,
                ((i::bigint * 2654435761) % 1000003) % 100 AS h
           FROM generate_series($5::int, $6::int) i
       ), t AS (
         SELECT i, created_at, h,
                pg_temp.b32(floor(extract(epoch FROM created_at) * 1000)::bigint, 10) || '0000' || pg_temp.b32(i, 12) AS id,
                CASE WHEN h < 10 THEN 'WAITING' WHEN h < 80 THEN 'COMPLETED' WHEN h < 95 THEN 'TIMED_OUT' ELSE 'CANCELLED' END AS planned,
                CASE WHEN h < 80 THEN created_at + make_interval(secs => 5 + (i * 7) % 600)
                     WHEN h < 95 THEN created_at + interval '1 hour'
                     ELSE created_at + make_interval(secs => 60 + (i * 13) % 3600) END AS finished_at,
                CASE WHEN h >= 80 AND h < 95 THEN created_at + interval '1 hour' ELSE created_at + interval '31 days' END AS timeout_at,
                ARRAY['kind:' || (i % 4)] || CASE WHEN i % 2 = 0 THEN ARRAY['customer:' || (((i / 2)::bigint * 7919) % $7)] ELSE '{}'::text[] END AS tags,
                CASE WHEN i % 5 = 0 THEN 'order-' || i END AS idempotency_key
           FROM g
       )
       SELECT i, id, $1::text AS environment, created_at, timeout_at, tags, idempotency_key,
              CASE WHEN idempotency_key IS NOT NULL THEN created_at + interval '30 days' END AS key_expires_at,
              CASE WHEN finished_at > $8::timestamptz THEN 'WAITING' ELSE planned END AS status,
              CASE WHEN finished_at > $8::timestamptz OR planned = 'WAITING' THEN NULL ELSE finished_at END AS finished_at
         FROM t`,
      [environment, tokens, start, now.getTime() - 60_000, from, to, rareTagCount(tokens), now],
    );
    await client.query(
      `INSERT INTO waitpoint_tokens (id, environment, status, idempotency_key, idempotency_key_expires_at, timeout_at,
                                     completed_at, output, output_type, output_is_error, completed_by, tags,
                                     created_at, updated_at, version)
       SELECT id, environment, status, idempotency_key, key_expires_at, timeout_at, finished_at,
              CASE status WHEN 'COMPLETED' THEN '{"approved":true,"n":' || i || '}'
                          WHEN 'TIMED_OUT' THEN '{"code":"timeout","message":"The waitpoint token timed out"}'
                          WHEN 'CANCELLED' THEN '{"code":"cancelled","message":"The waitpoint token was cancelled"}' END,
              'application/json', status IN ('TIMED_OUT', 'CANCELLED'),
              CASE status WHEN 'COMPLETED' THEN 'api' WHEN 'TIMED_OUT' THEN 'scheduler' WHEN 'CANCELLED' THEN 'operator' END,
              tags, created_at, COALESCE(finished_at, created_at), CASE WHEN status = 'WAITING' THEN 1 ELSE 2 END
         FROM seed`,
    );
    await client.query(
      `INSERT INTO waitpoint_idempotency_keys (environment, idempotency_key, token_id, expires_at)
       SELECT environment, idempotency_key, id, key_expires_at FROM seed WHERE idempotency_key IS NOT NULL`,
    );
    // Events in creation order, then the terminal events (the order a replay needs: a stream's
    // created event before its terminal one).
    await client.query(
      `INSERT INTO es_events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, recorded_at)
       SELECT 'token-' || id, 1, gen_random_uuid(), 'TokenCreated', 1,
              jsonb_strip_nulls(jsonb_build_object(
                'tokenId', id, 'environment', environment, 'idempotencyKey', idempotency_key,
                'idempotencyKeyExpiresAt', pg_temp.iso(key_expires_at), 'timeoutAt', pg_temp.iso(timeout_at),
                'tags', to_jsonb(tags), 'createdAt', pg_temp.iso(created_at))),
              jsonb_build_object('correlationId', 'seed-' || i, 'actor', jsonb_build_object('type', 'api_key', 'id', environment)),
              created_at
         FROM seed ORDER BY i`,
    );
    await client.query(
      `INSERT INTO es_events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, recorded_at)
       SELECT 'token-' || id, 2, gen_random_uuid(),
              CASE status WHEN 'COMPLETED' THEN 'TokenCompleted' WHEN 'TIMED_OUT' THEN 'TokenTimedOut' ELSE 'TokenCancelled' END, 1,
              CASE status
                WHEN 'COMPLETED' THEN jsonb_build_object('tokenId', id, 'environment', environment,
                  'output', '{"approved":true,"n":' || i || '}', 'outputType', 'application/json', 'channel', 'api',
                  'completedAt', pg_temp.iso(finished_at))
                WHEN 'TIMED_OUT' THEN jsonb_build_object('tokenId', id, 'environment', environment,
                  'timeoutAt', pg_temp.iso(timeout_at), 'timedOutAt', pg_temp.iso(finished_at),
                  'output', '{"code":"timeout","message":"The waitpoint token timed out"}', 'forced', false)
                ELSE jsonb_build_object('tokenId', id, 'environment', environment, 'cancelledAt', pg_temp.iso(finished_at),
                  'output', '{"code":"cancelled","message":"The waitpoint token was cancelled"}')
              END,
              jsonb_build_object('correlationId', 'seed-' || i || '-end', 'actor',
                CASE status WHEN 'COMPLETED' THEN jsonb_build_object('type', 'api_key', 'id', environment)
                            WHEN 'TIMED_OUT' THEN jsonb_build_object('type', 'scheduler')
                            ELSE jsonb_build_object('type', 'operator') END),
              finished_at
         FROM seed WHERE status <> 'WAITING' ORDER BY finished_at, i`,
    );
    await client.query('COMMIT');
    options.onProgress?.(to);
  }
  // Every seeded table vacuumed, not only analyzed: autovacuum would otherwise vacuum the
  // millions of new key rows (an insert-triggered vacuum) within a minute of the start, in the
  // middle of the first measurements (the creates of bench:scale).
  await client.query(`VACUUM (ANALYZE) waitpoint_tokens`);
  await client.query(`VACUUM (ANALYZE) es_events`);
  await client.query(`VACUUM (ANALYZE) waitpoint_idempotency_keys`);
  // Write the seeding's dirty pages out now: a database that grew over months has no gigabytes
  // waiting for the next checkpoint, and that checkpoint's writes (and fsyncs) would otherwise
  // land in the measurements that follow and slow the writes measured there.
  await client.query(`CHECKPOINT`);
}

/**
 * Moves the outbox relay's checkpoint past the seeded events: they are history, not news, and
 * publishing millions of them to JetStream at start is not what a benchmark of reads measures.
 */
export async function skipSeededEventsInOutbox(client: Client, subscriberId: string): Promise<void> {
  await client.query(
    `INSERT INTO es_checkpoints (subscriber_id, last_transaction_id, last_global_position)
     SELECT $1, max(transaction_id), max(global_position) FROM es_events
     ON CONFLICT (subscriber_id) DO UPDATE
       SET last_transaction_id = EXCLUDED.last_transaction_id, last_global_position = EXCLUDED.last_global_position, updated_at = now()`,
    [subscriberId],
  );
}
