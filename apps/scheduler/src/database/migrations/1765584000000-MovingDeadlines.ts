import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deadlines that move: a timer remembers the stream version of the event that set its
 * deadline (TokenCreated is version 1, each TokenDeadlineExtended a later one), so a redelivered
 * older event never moves a timer back.
 */
export class MovingDeadlines1765584000000 implements MigrationInterface {
  name = 'MovingDeadlines1765584000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scheduler_timers ADD COLUMN deadline_version integer NOT NULL DEFAULT 1`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scheduler_timers DROP COLUMN deadline_version`);
  }
}
