import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event store (append-only, gap-free global order via transaction ids), the outbox
 * checkpoint, and the token read tables that are projected in the append transaction.
 */
export class EventStoreAndTokenProjection1763884800000 implements MigrationInterface {
  name = 'EventStoreAndTokenProjection1763884800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE es_events (
        global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
        stream_id       text        NOT NULL,
        stream_version  integer     NOT NULL CHECK (stream_version > 0),
        event_id        uuid        NOT NULL UNIQUE,
        event_type      text        NOT NULL,
        schema_version  integer     NOT NULL,
        data            jsonb       NOT NULL,
        metadata        jsonb       NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT es_events_stream_version_unique UNIQUE (stream_id, stream_version)
      )`);
    // Readers order and checkpoint by (transaction_id, global_position): see OutboxRelay.
    await q.query(`CREATE INDEX es_events_transaction_order ON es_events (transaction_id, global_position)`);
    // Append-only: history is never rewritten, whatever code runs against the table.
    await q.query(`
      CREATE FUNCTION es_events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'es_events is append-only (% refused)', TG_OP;
      END $$`);
    await q.query(`
      CREATE TRIGGER es_events_append_only BEFORE UPDATE OR DELETE ON es_events
      FOR EACH ROW EXECUTE FUNCTION es_events_reject_change()`);

    await q.query(`
      CREATE TABLE es_checkpoints (
        subscriber_id        text        PRIMARY KEY,
        last_transaction_id  xid8        NOT NULL DEFAULT '0',
        last_global_position bigint      NOT NULL DEFAULT 0,
        updated_at           timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE waitpoint_tokens (
        id                         text        PRIMARY KEY,
        environment                text        NOT NULL,
        status                     text        NOT NULL
          CHECK (status IN ('WAITING', 'COMPLETED', 'TIMED_OUT', 'CANCELLED')),
        idempotency_key            text,
        idempotency_key_expires_at timestamptz,
        timeout_at                 timestamptz NOT NULL,
        completed_at               timestamptz,
        output                     text,
        output_type                text        NOT NULL DEFAULT 'application/json',
        output_is_error            boolean     NOT NULL DEFAULT false,
        completed_by               text,
        tags                       text[]      NOT NULL DEFAULT '{}',
        created_at                 timestamptz NOT NULL,
        updated_at                 timestamptz NOT NULL,
        version                    integer     NOT NULL
      )`);
    await q.query(`CREATE INDEX waitpoint_tokens_env_id ON waitpoint_tokens (environment, id DESC)`);
    await q.query(`CREATE INDEX waitpoint_tokens_env_status_id ON waitpoint_tokens (environment, status, id DESC)`);
    await q.query(`CREATE INDEX waitpoint_tokens_tags ON waitpoint_tokens USING gin (tags)`);
    await q.query(`
      CREATE INDEX waitpoint_tokens_env_idempotency_key ON waitpoint_tokens (environment, idempotency_key)
      WHERE idempotency_key IS NOT NULL`);
    await q.query(`
      CREATE INDEX waitpoint_tokens_waiting_timeout ON waitpoint_tokens (timeout_at)
      WHERE status = 'WAITING'`);

    await q.query(`
      CREATE TABLE waitpoint_idempotency_keys (
        environment     text        NOT NULL,
        idempotency_key text        NOT NULL,
        token_id        text        NOT NULL,
        expires_at      timestamptz NOT NULL,
        PRIMARY KEY (environment, idempotency_key)
      )`);
    await q.query(`
      CREATE TABLE waitpoint_request_keys (
        environment text        NOT NULL,
        request_key text        NOT NULL,
        token_id    text        NOT NULL,
        created_at  timestamptz NOT NULL,
        PRIMARY KEY (environment, request_key)
      )`);
    await q.query(`CREATE INDEX waitpoint_request_keys_created ON waitpoint_request_keys (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE waitpoint_request_keys`);
    await q.query(`DROP TABLE waitpoint_idempotency_keys`);
    await q.query(`DROP TABLE waitpoint_tokens`);
    await q.query(`DROP TABLE es_checkpoints`);
    await q.query(`DROP TABLE es_events`);
    await q.query(`DROP FUNCTION es_events_reject_change`);
  }
}
