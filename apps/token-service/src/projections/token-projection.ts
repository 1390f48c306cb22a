import type { EntityManager } from 'typeorm';
import { EventEnvelope, TokenEvent, TokenTimedOut, TokenView } from '@waitpoints/contracts';
import { ConcurrencyError } from '../event-store/event-store';
import { terminalColumns } from './terminal-columns';
import { TOKEN_VIEW_COLUMNS, TokenRow, toTokenView } from './token-queries';

/**
 * Projects token events into the read tables (`waitpoint_tokens`, `waitpoint_idempotency_keys`,
 * `waitpoint_request_keys`). Runs inside the append transaction, so a token is readable the
 * moment its command is answered, and a rejected reservation rolls the append back.
 * Returns the token's row as the event left it (saves the command a read).
 */
export class TokenProjection {
  async apply(m: EntityManager, envelope: EventEnvelope): Promise<TokenView> {
    const event = { type: envelope.type, data: envelope.data } as TokenEvent;
    const version = envelope.streamVersion;
    switch (event.type) {
      case 'TokenCreated': {
        const d = event.data;
        const [row]: TokenRow[] = await m.query(
          `INSERT INTO waitpoint_tokens (id, environment, status, idempotency_key, idempotency_key_expires_at,
             timeout_at, tags, created_at, updated_at, version)
           VALUES ($1, $2, 'WAITING', $3, $4, $5, $6, $7, $7, $8)
           RETURNING ${TOKEN_VIEW_COLUMNS}`,
          [d.tokenId, d.environment, d.idempotencyKey ?? null, d.idempotencyKeyExpiresAt ?? null,
            d.timeoutAt, d.tags, d.createdAt, version],
        );
        if (d.idempotencyKey !== undefined) {
          // Takes the key only if it is free or its reservation has expired; otherwise a
          // concurrent create won it and this one must retry (and find the winner).
          const taken: unknown[] = await m.query(
            `INSERT INTO waitpoint_idempotency_keys (environment, idempotency_key, token_id, expires_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (environment, idempotency_key) DO UPDATE
               SET token_id = EXCLUDED.token_id, expires_at = EXCLUDED.expires_at
               WHERE waitpoint_idempotency_keys.expires_at <= $5
             RETURNING token_id`,
            [d.environment, d.idempotencyKey, d.tokenId, d.idempotencyKeyExpiresAt, d.createdAt],
          );
          if (taken.length === 0) throw new ConcurrencyError(`idempotency key taken concurrently`);
        }
        if (d.requestIdempotencyKey !== undefined) {
          const taken: unknown[] = await m.query(
            `INSERT INTO waitpoint_request_keys (environment, request_key, token_id, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING token_id`,
            [d.environment, d.requestIdempotencyKey, d.tokenId, d.createdAt],
          );
          if (taken.length === 0) throw new ConcurrencyError(`request idempotency key taken concurrently`);
        }
        return toTokenView(row);
      }
      case 'TokenCompleted':
      case 'TokenTimedOut':
      case 'TokenCancelled': {
        const c = terminalColumns(event);
        return this.finish(m, event.data.tokenId, c.status, c.finishedAt, c.output, c.outputType, c.outputIsError, c.completedBy, version);
      }
    }
  }

  /**
   * Same result as `apply` on each envelope in turn; timeouts (the scheduler's bulk) are
   * written with one statement, since a batch holds at most one event per token.
   */
  async applyAll(m: EntityManager, envelopes: EventEnvelope[]): Promise<void> {
    const timeouts: EventEnvelope<TokenTimedOut>[] = [];
    for (const envelope of envelopes) {
      if (envelope.type === 'TokenTimedOut') timeouts.push(envelope as EventEnvelope<TokenTimedOut>);
      else await this.apply(m, envelope);
    }
    if (timeouts.length === 0) return;
    await m.query(
      `UPDATE waitpoint_tokens AS t
         SET status = 'TIMED_OUT', completed_at = u.at, output = u.output, output_type = 'application/json',
             output_is_error = true, completed_by = u.completed_by, updated_at = u.at, version = u.version
        FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::int[])
          AS u(id, at, output, completed_by, version)
       WHERE t.id = u.id`,
      [
        timeouts.map((e) => e.data.tokenId),
        timeouts.map((e) => e.data.timedOutAt),
        timeouts.map((e) => e.data.output),
        timeouts.map((e) => (e.data.forced ? 'operator' : 'scheduler')),
        timeouts.map((e) => e.streamVersion),
      ],
    );
  }

  private async finish(
    m: EntityManager,
    tokenId: string,
    status: string,
    at: string,
    output: string | null,
    outputType: string,
    outputIsError: boolean,
    completedBy: string,
    version: number,
  ): Promise<TokenView> {
    const [rows]: [TokenRow[], number] = await m.query(
      `UPDATE waitpoint_tokens
         SET status = $2, completed_at = $3, output = $4, output_type = $5, output_is_error = $6,
             completed_by = $7, updated_at = $3, version = $8
       WHERE id = $1
       RETURNING ${TOKEN_VIEW_COLUMNS}`,
      [tokenId, status, at, output, outputType, outputIsError, completedBy, version],
    );
    return toTokenView(rows[0]);
  }
}
