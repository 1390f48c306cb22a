import type { DataSource } from 'typeorm';
import type { ForgetReason, IngestPlan } from '../ingest/ingest-plan';

/** A timer leased to this instance: fire it at `dueAt`, while `leaseUntil` lasts. */
export interface LeasedTimer {
  tokenId: string;
  environment: string;
  dueAt: Date;
  leaseUntil: Date;
}

export interface IngestResult {
  /** Timers that were not in the table before (a redelivered creation schedules nothing). */
  scheduled: { tokenId: string; dueAt: Date }[];
  forgotten: { tokenId: string; reason: ForgetReason }[];
}

interface TimerRow {
  token_id: string;
  environment: string;
  due_at: Date;
  lease_until: Date;
}

const toLeased = (row: TimerRow): LeasedTimer => ({
  tokenId: row.token_id,
  environment: row.environment,
  dueAt: row.due_at,
  leaseUntil: row.lease_until,
});

/** Pending timers counted exactly up to here; estimated beyond (see countPending). */
export const EXACT_PENDING_COUNT_LIMIT = 10_000;

/**
 * Every statement on `scheduler_timers`. Each is a single statement, hence atomic, and safe
 * to repeat. Claims lock with SKIP LOCKED so instances never wait for, nor take, each
 * other's timers; a lease, not the lock, then marks the timer as held.
 */
export class TimerStore {
  constructor(private readonly db: DataSource) {}

  /** The returned rows of one statement (TypeORM's plain `query` returns [rows, count] for UPDATE/DELETE). */
  private async rows<T>(sql: string, parameters: unknown[]): Promise<T[]> {
    const runner = this.db.createQueryRunner();
    try {
      return (await runner.query(sql, parameters, true)).records as T[];
    } finally {
      await runner.release();
    }
  }

  /** Inserts the new timers and deletes the ended ones, in one statement (one commit). */
  async apply(plan: IngestPlan): Promise<IngestResult> {
    if (plan.schedule.length === 0 && plan.forget.length === 0) return { scheduled: [], forgotten: [] };
    const rows: { change: 'scheduled' | 'forgotten'; token_id: string; due_at: Date | null }[] = await this.rows(
      `WITH scheduled AS (
         INSERT INTO scheduler_timers (token_id, environment, due_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
         ON CONFLICT (token_id) DO NOTHING
         RETURNING token_id, due_at),
       forgotten AS (
         DELETE FROM scheduler_timers WHERE token_id = ANY($4::text[]) RETURNING token_id)
       SELECT 'scheduled' AS change, token_id, due_at FROM scheduled
       UNION ALL
       SELECT 'forgotten', token_id, NULL FROM forgotten`,
      [
        plan.schedule.map((t) => t.tokenId),
        plan.schedule.map((t) => t.environment),
        plan.schedule.map((t) => t.dueAt),
        plan.forget.map((f) => f.tokenId),
      ],
    );
    const reasons = new Map(plan.forget.map((f) => [f.tokenId, f.reason]));
    return {
      scheduled: rows.filter((r) => r.change === 'scheduled').map((r) => ({ tokenId: r.token_id, dueAt: r.due_at! })),
      forgotten: rows
        .filter((r) => r.change === 'forgotten')
        .map((r) => ({ tokenId: r.token_id, reason: reasons.get(r.token_id)! })),
    };
  }

  /** Leases unleased timers due in (dueAfter, dueBy], oldest first. */
  async claimUnleased(options: {
    dueAfter: Date | null;
    dueBy: Date;
    limit: number;
    owner: string;
    leaseUntil: Date;
  }): Promise<LeasedTimer[]> {
    if (options.limit <= 0) return [];
    const rows: TimerRow[] = await this.rows(
      `WITH picked AS (
         SELECT token_id FROM scheduler_timers
          WHERE lease_owner IS NULL AND due_at > $1::timestamptz AND due_at <= $2::timestamptz
          ORDER BY due_at
          LIMIT $3
          FOR UPDATE SKIP LOCKED)
       UPDATE scheduler_timers t SET lease_owner = $4, lease_until = $5, claims = t.claims + 1
         FROM picked WHERE t.token_id = picked.token_id
       RETURNING t.token_id, t.environment, t.due_at, t.lease_until`,
      [options.dueAfter ?? '-infinity', options.dueBy, options.limit, options.owner, options.leaseUntil],
    );
    return rows.map(toLeased).sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
  }

  /** Leases timers whose lease ran out: their holder died (or stalled) before firing them. */
  async claimExpired(options: { now: Date; limit: number; owner: string; leaseUntil: Date }): Promise<LeasedTimer[]> {
    if (options.limit <= 0) return [];
    const rows: TimerRow[] = await this.rows(
      `WITH picked AS (
         SELECT token_id FROM scheduler_timers
          WHERE lease_owner IS NOT NULL AND lease_until <= $1::timestamptz
          ORDER BY lease_until
          LIMIT $2
          FOR UPDATE SKIP LOCKED)
       UPDATE scheduler_timers t SET lease_owner = $3, lease_until = $4, claims = t.claims + 1
         FROM picked WHERE t.token_id = picked.token_id
       RETURNING t.token_id, t.environment, t.due_at, t.lease_until`,
      [options.now, options.limit, options.owner, options.leaseUntil],
    );
    return rows.map(toLeased).sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
  }

  /** Extends this owner's leases; returns the ids still leased to it (the others are gone or taken). */
  async renew(owner: string, tokenIds: string[], leaseUntil: Date): Promise<string[]> {
    if (tokenIds.length === 0) return [];
    const rows: { token_id: string }[] = await this.rows(
      `UPDATE scheduler_timers SET lease_until = $3
        WHERE lease_owner = $1 AND token_id = ANY($2::text[])
        RETURNING token_id`,
      [owner, tokenIds, leaseUntil],
    );
    return rows.map((r) => r.token_id);
  }

  /** Gives timers back (a clean shutdown), so another instance can claim them at once. */
  async release(owner: string, tokenIds: string[]): Promise<void> {
    if (tokenIds.length === 0) return;
    await this.rows(
      `UPDATE scheduler_timers SET lease_owner = NULL, lease_until = NULL
        WHERE lease_owner = $1 AND token_id = ANY($2::text[])`,
      [owner, tokenIds],
    );
  }

  async delete(tokenIds: string[]): Promise<void> {
    if (tokenIds.length === 0) return;
    await this.rows(`DELETE FROM scheduler_timers WHERE token_id = ANY($1::text[])`, [tokenIds]);
  }

  /**
   * Timers in the table: exact up to EXACT_PENDING_COUNT_LIMIT (a bounded index-only count),
   * beyond it PostgreSQL's estimate from its statistics (a plan, no scan): a metrics scrape
   * must not read millions of rows.
   */
  async countPending(): Promise<number> {
    const rows: { n: number }[] = await this.rows(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM scheduler_timers LIMIT $1) bounded`,
      [EXACT_PENDING_COUNT_LIMIT + 1],
    );
    const n = rows[0].n;
    if (n <= EXACT_PENDING_COUNT_LIMIT) return n;
    const [plan] = await this.rows<{ 'QUERY PLAN': { Plan: { 'Plan Rows': number } }[] }>(
      `EXPLAIN (FORMAT JSON) SELECT 1 FROM scheduler_timers`,
      [],
    );
    return Math.max(n, Math.round(plan['QUERY PLAN'][0].Plan['Plan Rows']));
  }
}
