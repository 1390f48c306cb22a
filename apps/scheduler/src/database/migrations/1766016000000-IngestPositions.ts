import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How far the scheduler has learned deadlines: the outbox position of the newest event it
 * ingested, per durable consumer. When the scheduler was away longer than JetStream keeps
 * messages, it reads the events after this position from the event store (a lost creation
 * would be a timer never armed). Positions are text that sorts in publish order.
 */
export class IngestPositions1766016000000 implements MigrationInterface {
  name = 'IngestPositions1766016000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE scheduler_ingest_positions (
        consumer_name text        PRIMARY KEY,
        position      text        NOT NULL,
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE scheduler_ingest_positions`);
  }
}
