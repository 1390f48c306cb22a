import type { DataSource } from 'typeorm';
import type { OutboxPosition } from '@waitpoints/contracts';
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
  /** Timers whose deadline an extension moved; their leases were dropped, so they are claimed again at the new time. */
  moved: { tokenId: string; dueAt: Date }[];
  forgotten: { tokenId: string; reason: ForgetReason }[];
}

/** A fired timer whose token is not due after all: its deadline moved (a heartbeat, or an extension not yet ingested). */
export interface Postponement {
  tokenId: string;
  /** The deadline the timer was fired at; a timer that moved meanwhile is left alone. */
  firedDueAt: Date;
  dueAt: Date;
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

  /**
   * Inserts the new timers, moves the timers whose deadline changed and deletes the ended ones,
   * in one statement (one commit). A timer moves only to a deadline of a newer stream version,
   * and a moved timer loses its lease: whichever instance holds it in memory at the old time no
   * longer owns it, and the claim loop takes it again at the new one.
   *
   * `ingested` (the consumer and the newest outbox position in the batch) is recorded in the
   * same statement, so the position never runs ahead of the timers it stands for; it only
   * moves forward (instances share the consumer and commit batches in any order).
   */
  async apply(plan: IngestPlan, ingested?: { consumerName: string; position: OutboxPosition }): Promise<IngestResult> {
    if (plan.schedule.length === 0 && plan.forget.length === 0 && !ingested) return { scheduled: [], moved: [], forgotten: [] };
    const rows: { change: 'scheduled' | 'moved' | 'forgotten'; token_id: string; due_at: Date | null }[] = await this.rows(
      `WITH scheduled AS (
         INSERT INTO scheduler_timers AS t (token_id, environment, due_at, deadline_version)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[])
         ON CONFLICT (token_id) DO UPDATE
           SET due_at = EXCLUDED.due_at, deadline_version = EXCLUDED.deadline_version, lease_owner = NULL, lease_until = NULL
           WHERE t.deadline_version < EXCLUDED.deadline_version
         RETURNING token_id, due_at, xmax = 0 AS inserted),
       forgotten AS (
         DELETE FROM scheduler_timers WHERE token_id = ANY($5::text[]) RETURNING token_id),
       ingested AS (
         INSERT INTO scheduler_ingest_positions AS p (consumer_name, position)
         SELECT $6::text, $7::text WHERE $6::text IS NOT NULL
         ON CONFLICT (consumer_name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
           WHERE p.position < EXCLUDED.position)
       SELECT CASE WHEN inserted THEN 'scheduled' ELSE 'moved' END AS change, token_id, due_at FROM scheduled
       UNION ALL
       SELECT 'forgotten', token_id, NULL FROM forgotten`,
      [
        plan.schedule.map((t) => t.tokenId),
        plan.schedule.map((t) => t.environment),
        plan.schedule.map((t) => t.dueAt),
        plan.schedule.map((t) => t.version),
        plan.forget.map((f) => f.tokenId),
        ingested?.consumerName ?? null,
        ingested?.position ?? null,
      ],
    );
    const reasons = new Map(plan.forget.map((f) => [f.tokenId, f.reason]));
    const timers = (change: 'scheduled' | 'moved') =>
      rows.filter((r) => r.change === change).map((r) => ({ tokenId: r.token_id, dueAt: r.due_at! }));
    return {
      scheduled: timers('scheduled'),
      moved: timers('moved'),
      forgotten: rows.filter((r) => r.change === 'forgotten').map((r) => ({ tokenId: r.token_id, reason: reasons.get(r.token_id)! })),
    };
  }

  /** The newest outbox position `consumerName` has ingested, or undefined before its first event. */
  async ingestedUpTo(consumerName: string): Promise<OutboxPosition | undefined> {
    const rows = await this.rows<{ position: string }>(`SELECT position FROM scheduler_ingest_positions WHERE consumer_name = $1`, [
      consumerName,
    ]);
    return rows[0]?.position;
  }

  /**
   * Re-arms fired timers at the later deadline the token-service answered, and gives up their
   * lease, so the claim loop takes them again when that deadline comes near. Only timers still
   * leased to `owner` at the deadline they were fired at: one that an extension moved meanwhile
   * keeps the extension's deadline.
   */
  async postpone(owner: string, postponements: Postponement[]): Promise<void> {
    if (postponements.length === 0) return;
    await this.rows(
      `UPDATE scheduler_timers t SET due_at = p.due_at, lease_owner = NULL, lease_until = NULL
         FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS p(token_id, fired_due_at, due_at)
        WHERE t.token_id = p.token_id AND t.lease_owner = $1 AND t.due_at = p.fired_due_at`,
      [owner, postponements.map((p) => p.tokenId), postponements.map((p) => p.firedDueAt), postponements.map((p) => p.dueAt)],
    );
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
    const rows: { n: number }[] = await this.rows(`SELECT count(*)::int AS n FROM (SELECT 1 FROM scheduler_timers LIMIT $1) bounded`, [
      EXACT_PENDING_COUNT_LIMIT + 1,
    ]);
    const n = rows[0].n;
    if (n <= EXACT_PENDING_COUNT_LIMIT) return n;
    const [plan] = await this.rows<{ 'QUERY PLAN': { Plan: { 'Plan Rows': number } }[] }>(
      `EXPLAIN (FORMAT JSON) SELECT 1 FROM scheduler_timers`,
      [],
    );
    return Math.max(n, Math.round(plan['QUERY PLAN'][0].Plan['Plan Rows']));
  }
}
