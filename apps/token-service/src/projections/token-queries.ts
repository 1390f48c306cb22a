import { encodeTime } from 'ulid';
import type { Sql } from '../database/database';
import { ApprovalRequest, ListTokensQuery, ListTokensResult, TokenView } from '@waitpoints/contracts';
import { INLINE_OUTPUT_LIMIT_BYTES } from '@waitpoints/contracts/nats/output-store';

export interface TokenRow {
  id: string;
  environment: string;
  status: TokenView['status'];
  idempotency_key: string | null;
  idempotency_key_expires_at: Date | null;
  timeout_at: Date;
  completed_at: Date | null;
  output?: string | null;
  output_chars?: number | null;
  output_type: string;
  output_is_error: boolean;
  completed_by: TokenView['completedBy'] | null;
  tags: string[];
  created_at: Date;
  version: number;
  approval?: ApprovalRequest | null;
  /** A bigint: pg hands it over as text. */
  heartbeat_timeout_ms: string | null;
  heartbeat_deadline: Date | null;
}

/**
 * Most tokens a tag filter reads through the GIN index before deciding the tags are common
 * and walking the id order instead (see TokenQueries.list). Reading them costs about 5 ms at
 * 1 M tokens; the walk then meets a match once every rows/limit tokens on average (sooner or
 * later if the tag's tokens are not spread evenly over time). Candidates are counted over all
 * environments: the choice of plan, never the answer, depends on other environments' tokens.
 */
export const TAG_CANDIDATE_LIMIT = 5_000;

/**
 * How much later than its creation time (created_at) a token's id may be timed: the id is
 * taken after the creation time is read, in the same batch (milliseconds apart), and the
 * monotonic ULID generator may run ahead of the clock if it went back. An hour of margin.
 */
export const ID_TIME_SLACK_MS = 3_600_000;

/** The smallest lower-case ULID of a millisecond: ids of tokens created at or after it sort after it. */
export function lowestIdAt(time: Date): string {
  return `${encodeTime(Math.max(0, time.getTime()), 10).toLowerCase()}${'0'.repeat(16)}`;
}

/**
 * Id bounds implied by a period, so the id-ordered walk starts and stops near it: a token
 * created at or after `createdFrom` has an id at or after lowestIdAt(createdFrom); one created
 * by `createdTo` has an id timed before createdTo + ID_TIME_SLACK_MS. created_at still decides.
 */
function idBoundsOf(query: ListTokensQuery): { from?: string; below?: string } {
  const time = (iso: string | undefined) => (iso === undefined ? undefined : new Date(iso));
  const from = time(query.createdFrom);
  const to = time(query.createdTo);
  return {
    from: from && !Number.isNaN(from.getTime()) ? lowestIdAt(from) : undefined,
    below: to && !Number.isNaN(to.getTime()) ? lowestIdAt(new Date(to.getTime() + ID_TIME_SLACK_MS + 1)) : undefined,
  };
}

/** Every column of a token but its output (lists never carry outputs). */
export const TOKEN_VIEW_COLUMNS = `id, environment, status, idempotency_key, idempotency_key_expires_at, timeout_at,
  completed_at, output_type, output_is_error, completed_by, tags, created_at, version, approval, heartbeat_timeout_ms,
  heartbeat_deadline`;

/** Absent values are left out of the view (never null), as the wire format requires. */
export function toTokenView(row: TokenRow): TokenView {
  const view: TokenView = {
    id: row.id,
    environment: row.environment,
    status: row.status,
    timeoutAt: row.timeout_at.toISOString(),
    outputIsError: row.output_is_error,
    tags: row.tags,
    createdAt: row.created_at.toISOString(),
    version: row.version,
  };
  if (row.idempotency_key !== null) view.idempotencyKey = row.idempotency_key;
  if (row.idempotency_key_expires_at !== null) {
    view.idempotencyKeyExpiresAt = row.idempotency_key_expires_at.toISOString();
  }
  if (row.heartbeat_timeout_ms !== null) view.heartbeatTimeoutMs = Number(row.heartbeat_timeout_ms);
  if (row.heartbeat_deadline !== null && row.status === 'WAITING') view.heartbeatDeadline = row.heartbeat_deadline.toISOString();
  if (row.completed_at !== null) view.completedAt = row.completed_at.toISOString();
  if (row.completed_by !== null) view.completedBy = row.completed_by;
  if (row.output !== undefined && row.output !== null) view.output = row.output;
  else if (row.output_chars !== undefined && row.output_chars !== null) view.outputChars = row.output_chars;
  if (row.status !== 'WAITING') view.outputType = row.output_type;
  if (row.approval !== undefined && row.approval !== null) view.approval = row.approval;
  return view;
}

/** Reads of the token projection. Every read is scoped to one environment. */
export class TokenQueries {
  constructor(private readonly options: { tagCandidateLimit?: number } = {}) {}

  /**
   * One token with its output. An output too large for a NATS reply is left out and only its
   * length given (`outputChars`); `outputChunk` serves it in slices.
   */
  async get(sql: Sql, environment: string, tokenId: string): Promise<TokenView | undefined> {
    const rows = await sql.query<TokenRow>({
      name: 'waitpoints-get-token-v2',
      text: `SELECT ${TOKEN_VIEW_COLUMNS},
              CASE WHEN octet_length(output) > $3 THEN NULL ELSE output END AS output,
              CASE WHEN octet_length(output) > $3 THEN char_length(output) END AS output_chars
         FROM waitpoint_tokens WHERE id = $1 AND environment = $2`,
      values: [tokenId, environment, INLINE_OUTPUT_LIMIT_BYTES],
    });
    return rows.length === 0 ? undefined : toTokenView(rows[0]);
  }

  /**
   * One token by id alone, for its approval page (the caller proved its right with the page's
   * signed URL). Only tokens created with an approval page; an output too large for a reply is
   * left out (the page shows approval outputs, which are small).
   */
  async getForApproval(sql: Sql, tokenId: string): Promise<TokenView | undefined> {
    const rows = await sql.query<TokenRow>({
      name: 'waitpoints-get-approval-token-v2',
      text: `SELECT ${TOKEN_VIEW_COLUMNS},
              CASE WHEN octet_length(output) > $2 THEN NULL ELSE output END AS output,
              CASE WHEN octet_length(output) > $2 THEN char_length(output) END AS output_chars
         FROM waitpoint_tokens WHERE id = $1 AND approval IS NOT NULL`,
      values: [tokenId, INLINE_OUTPUT_LIMIT_BYTES],
    });
    return rows.length === 0 ? undefined : toTokenView(rows[0]);
  }

  /** A slice of a token's output, in characters (outputs never change once set). */
  async outputChunk(sql: Sql, environment: string, tokenId: string, offset: number, length: number) {
    const rows: { chunk: string | null }[] = await sql.query(
      `SELECT substr(output, $3, $4) AS chunk FROM waitpoint_tokens WHERE id = $1 AND environment = $2`,
      [tokenId, environment, offset + 1, length],
    );
    return rows.length === 0 ? undefined : (rows[0].chunk ?? '');
  }

  /**
   * The current heartbeat deadline of each given token that has one: an input of the decider
   * (heartbeats are not events, so no stream holds it). Read fresh for every decision.
   */
  async heartbeatDeadlines(sql: Sql, tokenIds: string[]): Promise<Map<string, Date>> {
    const rows = await sql.query<{ id: string; heartbeat_deadline: Date }>({
      name: 'waitpoints-heartbeat-deadlines-v1',
      text: `SELECT id, heartbeat_deadline FROM waitpoint_tokens WHERE id = ANY($1::text[]) AND heartbeat_deadline IS NOT NULL`,
      values: [tokenIds],
    });
    return new Map(rows.map((row) => [row.id, row.heartbeat_deadline]));
  }

  /**
   * The reservations of many idempotency keys in one statement, by `environment/key` (keys
   * without a reservation are absent).
   */
  async idempotencyReservations(
    sql: Sql,
    keys: { environment: string; key: string }[],
  ): Promise<Map<string, { tokenId: string; expiresAt: Date }>> {
    if (keys.length === 0) return new Map();
    const rows = await sql.query<{ environment: string; idempotency_key: string; token_id: string; expires_at: Date }>({
      name: 'waitpoints-find-idempotency-keys-v2',
      text: `SELECT k.environment, k.idempotency_key, k.token_id, k.expires_at
               FROM unnest($1::text[], $2::text[]) AS i(environment, idempotency_key)
               JOIN waitpoint_idempotency_keys k USING (environment, idempotency_key)`,
      values: [keys.map((k) => k.environment), keys.map((k) => k.key)],
    });
    return new Map(rows.map((row) => [keyOf(row.environment, row.idempotency_key), { tokenId: row.token_id, expiresAt: row.expires_at }]));
  }

  /** The tokens that many request idempotency keys created, in one statement, by `environment/key`. */
  async requestKeyTokens(sql: Sql, keys: { environment: string; key: string }[]): Promise<Map<string, string>> {
    if (keys.length === 0) return new Map();
    const rows = await sql.query<{ environment: string; request_key: string; token_id: string }>({
      name: 'waitpoints-find-request-keys-v2',
      text: `SELECT k.environment, k.request_key, k.token_id
               FROM unnest($1::text[], $2::text[]) AS i(environment, request_key)
               JOIN waitpoint_request_keys k USING (environment, request_key)`,
      values: [keys.map((k) => k.environment), keys.map((k) => k.key)],
    });
    return new Map(rows.map((row) => [keyOf(row.environment, row.request_key), row.token_id]));
  }

  /**
   * Newest first, keyset-paged on the id (ids are time-ordered ULIDs). `after` pages towards
   * older tokens, `before` towards newer ones; `before` wins when both are given.
   *
   * Every filter is answered by walking an id-ordered index newest first (and stopping after a
   * page), except where that walk could read most of the table:
   * - a period bounds the walk: ids begin with their creation time (see idBoundsOf);
   * - tags: a walk finds a page quickly only if the tags are common. PostgreSQL cannot tell a
   *   rare tag it has no statistics for from a common one (it assumes 0.5 % of the rows), so
   *   the statement decides at run time: it first reads up to TAG_CANDIDATE_LIMIT tokens with
   *   the tags through the GIN index (or, for a tag the statistics know is common, a short
   *   sequential scan). Fewer than that: those are all of them, and the page is sorted out of
   *   them. Otherwise the tags are common enough for the walk (one token in every
   *   rows/TAG_CANDIDATE_LIMIT at least), which the other branch of the statement does; the
   *   branch not taken is skipped by its one-time filter.
   */
  async list(sql: Sql, query: ListTokensQuery): Promise<ListTokensResult> {
    const where: string[] = ['environment = $1'];
    const params: unknown[] = [query.environment];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    // One status as an equality, so the walk is the (environment, status, id) index in id order
    // and reads a page, however far back that status's newest tokens are; with `= ANY` the
    // planner walks (environment, id) and skips every token of the other statuses on the way.
    if (query.statuses?.length === 1) where.push(`status = ${param(query.statuses[0])}`);
    else if (query.statuses?.length) where.push(`status = ANY(${param(query.statuses)}::text[])`);
    if (query.idempotencyKey !== undefined) where.push(`idempotency_key = ${param(query.idempotencyKey)}`);
    const tags = query.tags?.length ? param(query.tags) : undefined;
    if (tags) where.push(`tags && ${tags}::text[]`);
    if (query.createdFrom !== undefined) where.push(`created_at >= ${param(query.createdFrom)}`);
    if (query.createdTo !== undefined) where.push(`created_at <= ${param(query.createdTo)}`);
    const bounds = idBoundsOf(query);
    if (bounds.from !== undefined) where.push(`id >= ${param(bounds.from)}`);
    if (bounds.below !== undefined) where.push(`id < ${param(bounds.below)}`);

    const backwards = query.before !== undefined;
    const cursor = query.before ?? query.after;
    if (cursor !== undefined) where.push(`id ${backwards ? '>' : '<'} ${param(cursor)}`);

    const order = `ORDER BY id ${backwards ? 'ASC' : 'DESC'}`;
    const limit = `LIMIT ${param(query.pageSize + 1)}`;
    const filters = where.join(' AND ');
    let text = `SELECT ${TOKEN_VIEW_COLUMNS} FROM waitpoint_tokens WHERE ${filters} ${order} ${limit}`;
    if (tags) {
      const cap = param(this.options.tagCandidateLimit ?? TAG_CANDIDATE_LIMIT);
      text = `
        WITH tagged AS MATERIALIZED (
          SELECT id FROM waitpoint_tokens WHERE tags && ${tags}::text[] LIMIT ${cap}
        ), few AS MATERIALIZED (
          SELECT count(*) < ${cap} AS yes FROM tagged
        )
        SELECT * FROM (
          (SELECT ${TOKEN_VIEW_COLUMNS} FROM waitpoint_tokens
            WHERE (SELECT yes FROM few) AND id IN (SELECT id FROM tagged) AND ${filters} ${order} ${limit})
          UNION ALL
          (SELECT ${TOKEN_VIEW_COLUMNS} FROM waitpoint_tokens
            WHERE NOT (SELECT yes FROM few) AND ${filters} ${order} ${limit})
        ) page ${order}`;
    }
    const rows: TokenRow[] = await sql.query(text, params);
    const hasMore = rows.length > query.pageSize;
    const page = rows.slice(0, query.pageSize);
    if (backwards) page.reverse();
    const tokens = page.map(toTokenView);
    const result: ListTokensResult = { tokens };
    if (tokens.length === 0) return result;
    const first = tokens[0].id;
    const last = tokens[tokens.length - 1].id;
    if (backwards) {
      result.next = last;
      if (hasMore) result.previous = first;
    } else {
      if (hasMore) result.next = last;
      if (cursor !== undefined) result.previous = first;
    }
    return result;
  }
}

/** How the key lookups name a key: environments are subject tokens, so they hold no `/`. */
export const keyOf = (environment: string, key: string): string => `${environment}/${key}`;
