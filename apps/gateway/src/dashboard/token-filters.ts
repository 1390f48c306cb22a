import { TOKEN_STATUSES, TokenStatus, isTokenStatus } from '@waitpoints/contracts';
import { ListQueryParse, parseListQuery } from '../tokens/list-tokens/list-tokens.request.dto';

/** The token list's filters as the dashboard's form sends them (short names, empty = unset). */
export interface TokenFilters {
  status: TokenStatus[];
  tags: string;
  idempotencyKey: string;
  period: string;
  /** ISO date, epoch ms, or a `datetime-local` value (read as UTC, the dashboard's time zone). */
  from: string;
  to: string;
  size: string;
  after: string;
  before: string;
}

const text = (value: unknown): string =>
  Array.isArray(value) ? value.map(String).join(',') : typeof value === 'string' ? value.trim() : '';

export function readFilters(raw: Record<string, unknown>): TokenFilters {
  const statuses = text(raw.status)
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(isTokenStatus);
  return {
    status: TOKEN_STATUSES.filter((s) => statuses.includes(s)),
    tags: text(raw.tags),
    idempotencyKey: text(raw.idempotencyKey),
    period: text(raw.period),
    from: text(raw.from),
    to: text(raw.to),
    size: text(raw.size),
    after: text(raw.after),
    before: text(raw.before),
  };
}

/** A `datetime-local` value has no zone; the dashboard shows UTC, so it means UTC. */
function asUtc(value: string): string {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) ? `${value}Z` : value;
}

/**
 * Filters → the REST API's list query, through the API's own parser: same rules, same
 * error messages (a bad value is reported, never silently dropped).
 */
export function toListQuery(filters: TokenFilters, now: Date): ListQueryParse {
  const raw: Record<string, string> = {};
  if (filters.status.length > 0) raw['filter[status]'] = filters.status.join(',');
  if (filters.tags) raw['filter[tags]'] = filters.tags;
  if (filters.idempotencyKey) raw['filter[idempotencyKey]'] = filters.idempotencyKey;
  if (filters.period) raw['filter[createdAt][period]'] = filters.period;
  if (filters.from) raw['filter[createdAt][from]'] = asUtc(filters.from);
  if (filters.to) raw['filter[createdAt][to]'] = asUtc(filters.to);
  if (filters.size) raw['page[size]'] = filters.size;
  if (filters.before) raw['page[before]'] = filters.before;
  else if (filters.after) raw['page[after]'] = filters.after;
  const parsed = parseListQuery(raw, now);
  // The API's messages name its own parameters; name the form's fields instead.
  if (!parsed.ok) return { ok: false, message: renameParameters(parsed.message) };
  return parsed;
}

const FIELD_NAMES: [string, string][] = [
  ['filter[status]', 'Status'],
  ['filter[tags]', 'Tags'],
  ['filter[idempotencyKey]', 'Idempotency key'],
  ['filter[createdAt][period]', 'Created within'],
  ['filter[createdAt][from]', 'Created from'],
  ['filter[createdAt][to]', 'Created to'],
  ['page[size]', 'Page size'],
  ['page[after]', 'Cursor'],
  ['page[before]', 'Cursor'],
];

function renameParameters(message: string): string {
  return FIELD_NAMES.reduce((m, [param, label]) => m.split(param).join(label), message);
}

/** The query string of these filters, with the paging cursor replaced (or dropped). */
export function filtersQueryString(filters: TokenFilters, cursor: { after?: string; before?: string } = {}): string {
  const params = new URLSearchParams();
  if (filters.status.length > 0) params.set('status', filters.status.join(','));
  for (const key of ['tags', 'idempotencyKey', 'period', 'from', 'to', 'size'] as const) {
    if (filters[key]) params.set(key, filters[key]);
  }
  if (cursor.before) params.set('before', cursor.before);
  else if (cursor.after) params.set('after', cursor.after);
  const query = params.toString();
  return query ? `?${query}` : '';
}

export const hasAnyFilter = (f: TokenFilters) => f.status.length > 0 || Boolean(f.tags || f.idempotencyKey || f.period || f.from || f.to);
