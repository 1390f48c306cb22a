import type { Database } from '../database/database';
import { projectStoredEvents, STORED_EVENT_KEYS, StoredEventKeys } from '../projections/token-projection';
import { EventArchive, prefixOfPeriod } from './event-archive';

export interface RestoreReport {
  segments: number;
  /** Events inserted into es_events (and projected). */
  loaded: number;
  /** Events already in es_events (same event_id, or the same stream version): skipped, not projected again. */
  skipped: number;
}

/**
 * Loads the archived events of a period (a UTC day or hour of the tokens' finish) back into a
 * database's es_events, with their original global position, transaction id and times, and
 * projects the inserted ones through the token projection (the very SQL live appends compose),
 * one transaction per segment. An event whose event_id or stream version is already there is
 * skipped, and so not projected twice: loading a period twice changes nothing.
 *
 * Meant for investigation in a separate database. Loaded into the live one, the tokens are past
 * their retention and the next retention pass removes (and archives) them again; their events
 * are at or before the outbox checkpoint, so they are not published again.
 */
export async function restorePeriod(db: Database, archive: EventArchive, period: string): Promise<RestoreReport> {
  const report: RestoreReport = { segments: 0, loaded: 0, skipped: 0 };
  for (const manifest of await archive.manifests(prefixOfPeriod(period))) {
    const events = await archive.readSegment(manifest);
    await db.transaction(async (sql) => {
      const inserted = await sql.query<{ global_position: string }>(
        `INSERT INTO es_events (global_position, transaction_id, stream_id, stream_version, event_id, event_type,
                                schema_version, data, metadata, recorded_at)
         OVERRIDING SYSTEM VALUE
         SELECT * FROM unnest($1::bigint[], $2::xid8[], $3::text[], $4::int[], $5::uuid[], $6::text[], $7::int[],
                              $8::jsonb[], $9::jsonb[], $10::timestamptz[])
         ON CONFLICT DO NOTHING
         RETURNING global_position::text AS global_position`,
        [
          events.map((e) => e.global_position),
          events.map((e) => e.transaction_id),
          events.map((e) => e.stream_id),
          events.map((e) => e.stream_version),
          events.map((e) => e.event_id),
          events.map((e) => e.event_type),
          events.map((e) => e.schema_version),
          events.map((e) => JSON.stringify(e.data)),
          events.map((e) => JSON.stringify(e.metadata)),
          events.map((e) => e.recorded_at),
        ],
      );
      // Projected in their original global order (the order the projection saw them in live),
      // by the replay that projections:rebuild uses.
      const loaded = await sql.query<StoredEventKeys>(
        `SELECT ${STORED_EVENT_KEYS} FROM es_events e WHERE e.global_position = ANY($1::bigint[]) ORDER BY e.global_position`,
        [inserted.map((row) => row.global_position)],
      );
      await projectStoredEvents(sql, loaded);
      report.loaded += inserted.length;
      report.skipped += events.length - inserted.length;
    });
    report.segments++;
  }
  // Identity values were given explicitly: move the sequence past them, or the next append could collide.
  await db.query(
    `SELECT setval(s.seq, GREATEST((SELECT COALESCE(max(global_position), 1) FROM es_events),
                                   (SELECT COALESCE(p.last_value, 1) FROM pg_sequences p
                                     WHERE format('%I.%I', p.schemaname, p.sequencename)::regclass = s.seq::regclass)))
       FROM (SELECT pg_get_serial_sequence('es_events', 'global_position') AS seq) s`,
  );
  return report;
}
