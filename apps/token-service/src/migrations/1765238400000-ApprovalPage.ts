import { MigrationInterface, QueryRunner } from 'typeorm';

/** The texts of a token's approval page (TokenCreated.data.approval), null for tokens without one. */
export class ApprovalPage1765238400000 implements MigrationInterface {
  name = 'ApprovalPage1765238400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waitpoint_tokens ADD COLUMN IF NOT EXISTS approval jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE waitpoint_tokens DROP COLUMN IF EXISTS approval`);
  }
}
