import { parseDuration, tokenStreamId } from '@waitpoints/contracts';
import { ID_TIME_SLACK_MS, lowestIdAt } from '../token-queries';
import type { ProjectionTable } from './projection-tables';

/**
 * Which tokens a projections:verify or projections:rebuild covers: those created (the token's
 * `created_at`, which is TokenCreated's `createdAt`) at or after `since` and before `until`.
 * Creation time, not the events' `recorded_at`: a token is replayed with all its events or not
 * at all, and its creation time never changes, so a range always names the same tokens.
 * Both ends open when absent: no range is every token.
 */
export interface CreatedRange {
  since?: Date;
  until?: Date;
}

export const isWholeHistory = (range: CreatedRange) => range.since === undefined && range.until === undefined;

export function describeRange(range: CreatedRange): string {
  if (isWholeHistory(range)) return 'all tokens';
  const since = range.since ? `from ${range.since.toISOString()}` : 'from the first';
  const until = range.until ? `until ${range.until.toISOString()}` : 'until now';
  return `tokens created ${since} ${until}`;
}

/** SQL literal of a time (an ISO string from Date: no quoting issue). */
const at = (time: Date) => `'${time.toISOString()}'::timestamptz`;

/**
 * Bounds on token ids implied by the range, so the primary key narrows the scan: ids are ULIDs
 * of the creation time, taken up to ID_TIME_SLACK_MS after it (see token-queries.ts).
 * `created_at` still decides; these only let an index skip what cannot match.
 */
function idBounds(range: CreatedRange): { from?: string; below?: string } {
  return {
    from: range.since ? lowestIdAt(range.since) : undefined,
    below: range.until ? lowestIdAt(new Date(range.until.getTime() + ID_TIME_SLACK_MS + 1)) : undefined,
  };
}

/** `waitpoint_tokens` rows (alias `alias`) of tokens created in the range; `TRUE` for no range. */
export function tokensInRange(range: CreatedRange, alias: string): string {
  const conditions: string[] = [];
  const { from, below } = idBounds(range);
  if (from !== undefined) conditions.push(`${alias}.id >= '${from}'`);
  if (below !== undefined) conditions.push(`${alias}.id < '${below}'`);
  if (range.since) conditions.push(`${alias}.created_at >= ${at(range.since)}`);
  if (range.until) conditions.push(`${alias}.created_at < ${at(range.until)}`);
  return conditions.length === 0 ? 'TRUE' : conditions.join(' AND ');
}

/**
 * `es_events` rows (alias `alias`) of tokens created in the range: every event of a stream whose
 * TokenCreated is in the range. The stream id bounds let the (stream_id, stream_version) index
 * find them; the creation event, read by that same index, decides.
 */
export function eventsInRange(range: CreatedRange, alias: string): string {
  if (isWholeHistory(range)) return 'TRUE';
  const conditions: string[] = [];
  const { from, below } = idBounds(range);
  if (from !== undefined) conditions.push(`${alias}.stream_id >= '${tokenStreamId(from)}'`);
  if (below !== undefined) conditions.push(`${alias}.stream_id < '${tokenStreamId(below)}'`);
  const created = [
    range.since ? `(c.data->>'createdAt')::timestamptz >= ${at(range.since)}` : undefined,
    range.until ? `(c.data->>'createdAt')::timestamptz < ${at(range.until)}` : undefined,
  ].filter((condition) => condition !== undefined);
  conditions.push(
    `EXISTS (SELECT 1 FROM es_events c WHERE c.stream_id = ${alias}.stream_id AND c.stream_version = 1
               AND c.event_type = 'TokenCreated' AND ${created.join(' AND ')})`,
  );
  return conditions.join(' AND ');
}

/**
 * Rows of a read table (alias `alias`) that belong to a token created in the range, each found
 * by an index: tokens by their id bounds; request keys by their `created_at` (the token's
 * creation time, which the projection copies); idempotency keys through the token rows of
 * `tokensTable` in the range (`waitpoint_tokens` names the key it reserved), by primary key.
 */
export function rowsInRange(range: CreatedRange, table: ProjectionTable, alias: string, tokensTable: string): string {
  if (isWholeHistory(range)) return 'TRUE';
  if (table === 'waitpoint_tokens') return tokensInRange(range, alias);
  if (table === 'waitpoint_request_keys') {
    return [
      range.since ? `${alias}.created_at >= ${at(range.since)}` : undefined,
      range.until ? `${alias}.created_at < ${at(range.until)}` : undefined,
    ]
      .filter((condition) => condition !== undefined)
      .join(' AND ');
  }
  return `EXISTS (SELECT 1 FROM ${tokensTable} r
                   WHERE r.environment = ${alias}.environment AND r.idempotency_key = ${alias}.idempotency_key
                     AND r.id = ${alias}.token_id AND ${tokensInRange(range, 'r')})`;
}

export interface ProjectionsArguments {
  command: 'rebuild' | 'verify';
  range: CreatedRange;
  /** Rows per comparison page and events per replay chunk (tests use tiny pages). */
  pageSize?: number;
}

export type Parsed = { ok: true; value: ProjectionsArguments } | { ok: false; error: string };

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** A time: an ISO 8601 date or date-time (UTC unless it says otherwise), or a duration before `now` (`7d`, `12h`). */
function parseTime(option: string, text: string, now: Date, durationAllowed: boolean): Date | string {
  const duration = durationAllowed ? parseDuration(text) : undefined;
  if (duration !== undefined) return new Date(now.getTime() - duration);
  const utc = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(text) ? `${text.includes('T') ? text : `${text}T00:00`}Z` : text;
  const time = new Date(utc);
  if (!ISO_TIME.test(text) || Number.isNaN(time.getTime())) {
    return `${option} ${JSON.stringify(text)} is not ${durationAllowed ? 'an ISO 8601 time (2026-11-01, 2026-11-01T12:00:00Z) or a duration before now (7d, 12h, 1w2d)' : 'an ISO 8601 time (2026-11-01, 2026-11-01T12:00:00Z)'}`;
  }
  return time;
}

/** `rebuild|verify [--since <ISO or duration>] [--until <ISO>] [--page-size <n>]`, `--option value` or `--option=value`. */
export function parseProjectionsArguments(args: string[], now: Date): Parsed {
  const [command, ...rest] = args;
  if (command !== 'rebuild' && command !== 'verify') {
    return {
      ok: false,
      error: command === undefined ? 'no command: rebuild or verify' : `unknown command ${JSON.stringify(command)}: rebuild or verify`,
    };
  }
  const range: CreatedRange = {};
  let pageSize: number | undefined;
  for (let i = 0; i < rest.length; i++) {
    const [option, inline] = rest[i].includes('=')
      ? [rest[i].slice(0, rest[i].indexOf('=')), rest[i].slice(rest[i].indexOf('=') + 1)]
      : [rest[i], undefined];
    if (!['--since', '--until', '--page-size'].includes(option)) return { ok: false, error: `unknown option ${JSON.stringify(rest[i])}` };
    const value = inline ?? rest[++i];
    if (value === undefined || value === '' || (inline === undefined && value.startsWith('--'))) {
      return { ok: false, error: `${option} needs a value` };
    }
    if (option === '--page-size') {
      if (!/^[1-9]\d*$/.test(value)) return { ok: false, error: `--page-size ${JSON.stringify(value)} is not a positive whole number` };
      pageSize = Number(value);
      continue;
    }
    const time = parseTime(option, value, now, option === '--since');
    if (typeof time === 'string') return { ok: false, error: time };
    if (option === '--since') range.since = time;
    else range.until = time;
  }
  if (range.since && range.until && range.since.getTime() >= range.until.getTime()) {
    return { ok: false, error: `--since (${range.since.toISOString()}) must be before --until (${range.until.toISOString()})` };
  }
  return { ok: true, value: { command, range, ...(pageSize === undefined ? {} : { pageSize }) } };
}
