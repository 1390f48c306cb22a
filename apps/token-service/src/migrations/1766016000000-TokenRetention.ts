import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Token retention may remove the events of finished tokens; everything else in es_events stays
 * append-only. The trigger that refused every UPDATE and DELETE now allows exactly this:
 *
 *   A DELETE of an es_events row is allowed only
 *     (1) inside a retention pass: the transaction has run `SET LOCAL waitpoints.retention_pass = 'on'`, and
 *     (2) when the row's stream is a token whose projection row (waitpoint_tokens) is in a
 *         terminal status (anything but WAITING, so a terminal status added later is included).
 *   Every UPDATE is refused, always; every other DELETE is refused.
 *
 * So the retention pass deletes a token's events before its waitpoint_tokens row, in one
 * transaction. That an event was published by the outbox before it is removed is checked by
 * the pass itself (it needs the relay's checkpoint), not here.
 *
 * No index is added: the pass finds candidates per environment through
 * waitpoint_tokens_env_completed_at (environment, completed_at) WHERE completed_at IS NOT NULL
 * (CompletedAtIndex), and completed_at is set exactly when a token leaves WAITING.
 */
export class TokenRetention1766016000000 implements MigrationInterface {
  name = 'TokenRetention1766016000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION es_events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE'
           AND current_setting('waitpoints.retention_pass', true) = 'on'
           AND left(OLD.stream_id, 6) = 'token-'
           AND EXISTS (SELECT 1 FROM waitpoint_tokens t
                        WHERE t.id = substr(OLD.stream_id, 7) AND t.status <> 'WAITING') THEN
          RETURN OLD;
        END IF;
        IF TG_OP = 'DELETE' THEN
          RAISE EXCEPTION 'es_events is append-only (DELETE refused: only a retention pass may remove the events of a finished token)';
        END IF;
        RAISE EXCEPTION 'es_events is append-only (% refused)', TG_OP;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION es_events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'es_events is append-only (% refused)', TG_OP;
      END $$`);
  }
}
