import { Pool } from 'pg';
import { TokenEventConsumer, TokenEventDelivery, consumeTokenEvents } from '@waitpoints/sdk/events';

/**
 * An internal service that reacts to completed tokens straight from JetStream.
 *
 * Delivery is at least once, so the reaction and the record of the event id commit in one
 * transaction: a repeat of the event (after a crash between commit and ack, or a redelivery)
 * finds its id already recorded and changes nothing. Only then is the event acknowledged.
 *
 * The event's outbox position is recorded with it: after an absence longer than JetStream
 * keeps messages (JETSTREAM_MAX_AGE), the consumer reads what it missed from the event store,
 * starting after the newest recorded position.
 */
export interface ReactorOptions {
  databaseUrl: string;
  natsUrl?: string;
  subjectPrefix?: string;
  /** Several instances with one name share the work; the position survives restarts. */
  durableName?: string;
  /** Where a first start begins: every completion ever stored, or only new ones. */
  deliverFrom?: 'all' | 'new';
}

export interface CompletedTokenReactor {
  consumer: TokenEventConsumer;
  stop(): Promise<void>;
}

export async function startCompletedTokenReactor(options: ReactorOptions): Promise<CompletedTokenReactor> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: 4 });
  await pool.query(`
    CREATE TABLE IF NOT EXISTS reactor_handled_events (
      event_id uuid PRIMARY KEY,
      handled_at timestamptz NOT NULL DEFAULT now()
    );
    ALTER TABLE reactor_handled_events ADD COLUMN IF NOT EXISTS position text;
    CREATE TABLE IF NOT EXISTS reactor_approvals (
      token_id text PRIMARY KEY,
      output jsonb,
      completed_at timestamptz NOT NULL
    );`);

  const react = async ({ event, redelivered, position }: TokenEventDelivery) => {
    if (event.type !== 'TokenCompleted') return;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const fresh = await client.query(
        'INSERT INTO reactor_handled_events (event_id, position) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING event_id',
        [event.eventId, position ?? null],
      );
      if (fresh.rowCount === 0) {
        await client.query('ROLLBACK');
        console.log(`already handled ${event.eventId}${redelivered ? ' (redelivered)' : ''}; skipping`);
        return;
      }
      // The reaction itself: here, recording the approval. Anything done in this transaction
      // happens exactly once per completion.
      await client.query('INSERT INTO reactor_approvals (token_id, output, completed_at) VALUES ($1, $2, $3)', [
        event.data.tokenId,
        event.data.output ?? null,
        event.data.completedAt,
      ]);
      await client.query('COMMIT');
      console.log(`token waitpoint_${event.data.tokenId} completed via ${event.data.channel}: ${event.data.output ?? '(no output)'}`);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error; // not acknowledged: JetStream redelivers it
    } finally {
      client.release();
    }
  };

  let consumer: TokenEventConsumer;
  try {
    consumer = await consumeTokenEvents({
      servers: options.natsUrl,
      subjectPrefix: options.subjectPrefix,
      durableName: options.durableName ?? 'completed-token-reactor',
      kinds: ['completed'],
      deliverFrom: options.deliverFrom ?? 'all',
      // Positions sort as text: the newest handled one is max(position).
      catchUp: {
        lastHandledPosition: async () =>
          (await pool.query<{ position: string | null }>('SELECT max(position) AS position FROM reactor_handled_events')).rows[0]
            .position ?? undefined,
      },
      handler: react,
    });
  } catch (error) {
    await pool.end();
    throw error;
  }
  return {
    consumer,
    async stop() {
      await consumer.stop();
      await pool.end();
    },
  };
}
