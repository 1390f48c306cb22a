import { outboxPosition, parseOutboxPosition, OutboxPosition, StoredEvent } from '@waitpoints/contracts';
import type { Sql, SqlStatement } from '../database/database';
import { EventRow, toEnvelope } from '../event-store/event-store';

interface OutboxRow extends EventRow {
  transaction_id: string;
}

/**
 * The one read of es_events in publish order, shared by the outbox relay (what to publish
 * next) and the stored-events query (what a consumer missed), so both see the same events in
 * the same order:
 *
 * - ordered by (transaction_id, global_position): a transaction's events together, in commit
 *   order of the transactions;
 * - only rows of transactions older than every running one (`pg_snapshot_xmin`): a slow
 *   transaction can still commit with a lower position, and reading past it would skip it.
 *
 * `upTo` bounds the read at a position (inclusive): the stored-events query serves only what
 * the relay has already published, so every reference to a large output it hands out exists.
 */
export async function readInPublishOrder(
  sql: Sql,
  options: { after: OutboxPosition; limit: number; upTo?: OutboxPosition },
): Promise<StoredEvent[]> {
  const rows = await sql.query<OutboxRow>(publishOrderStatement(options));
  return rows.map((row) => ({ position: outboxPosition(row.transaction_id, row.global_position), event: toEnvelope(row) }));
}

function publishOrderStatement({ after, limit, upTo }: { after: OutboxPosition; limit: number; upTo?: OutboxPosition }): SqlStatement {
  const from = positionValues(after);
  const bounded = upTo !== undefined;
  // ORDER BY names the table's columns: the bare names would sort the text aliases below
  // ("10" before "9"), which misorders, and with LIMIT can skip, events of a large transaction.
  return {
    name: bounded ? 'waitpoints-outbox-read-published' : 'waitpoints-outbox-read',
    text: `SELECT global_position::text AS global_position, transaction_id::text AS transaction_id, stream_id,
              stream_version, event_id, event_type, schema_version, data, metadata, recorded_at
         FROM es_events
        WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ${bounded ? 'AND (transaction_id, global_position) <= ($4::xid8, $5::bigint)' : ''}
        ORDER BY es_events.transaction_id, es_events.global_position
        LIMIT $3`,
    values: bounded ? [...from, limit, ...positionValues(upTo)] : [...from, limit],
  };
}

function positionValues(position: OutboxPosition): [string, string] {
  const parsed = parseOutboxPosition(position);
  if (!parsed) throw new RangeError(`"${position}" is not an outbox position`);
  return [parsed.transactionId, parsed.globalPosition];
}

/** The relay's checkpoint for `subscriberId` as a position (what it has published so far). */
export async function publishedUpTo(sql: Sql, subscriberId: string): Promise<OutboxPosition | undefined> {
  const rows = await sql.query<{ tx: string; pos: string }>({
    name: 'waitpoints-outbox-published-up-to',
    text: `SELECT last_transaction_id::text AS tx, last_global_position::text AS pos FROM es_checkpoints WHERE subscriber_id = $1`,
    values: [subscriberId],
  });
  return rows[0] ? outboxPosition(rows[0].tx, rows[0].pos) : undefined;
}
