import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The projection's key check (see token-projection.ts): an append whose create could not take
 * its idempotency or request key fails as a whole with a unique violation, as a plain INSERT
 * into the key table would. A function, because a statement of CTEs has no other way to fail
 * on a condition it computed.
 */
export class ProjectionKeyCheck1764979200000 implements MigrationInterface {
  name = 'ProjectionKeyCheck1764979200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION waitpoints_require_keys(
        idempotency_wanted bigint, idempotency_taken bigint, request_wanted bigint, request_taken bigint)
      RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        IF idempotency_taken < idempotency_wanted THEN
          RAISE EXCEPTION 'an idempotency key is reserved by another token'
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'waitpoint_idempotency_keys_pkey';
        END IF;
        IF request_taken < request_wanted THEN
          RAISE EXCEPTION 'a request idempotency key was already used'
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'waitpoint_request_keys_pkey';
        END IF;
        RETURN true;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS waitpoints_require_keys(bigint, bigint, bigint, bigint)`);
  }
}
