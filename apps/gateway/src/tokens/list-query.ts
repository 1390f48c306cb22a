import {
  ListTokensQuery,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_TAG_LENGTH,
  TOKEN_STATUSES,
  TokenStatus,
  isInternalTokenId,
  isStorableDate,
  isTokenStatus,
  parseBoundedDuration,
  parseIsoDate,
  toInternalTokenId,
} from '@waitpoints/contracts';
import { unstorableText } from '../http/storable-text';

export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;

/** Every `page[…]`/`filter[…]` parameter the list route accepts (the API description lists the same). */
export const LIST_QUERY_PARAMETERS = [
  'page[size]',
  'page[after]',
  'page[before]',
  'filter[status]',
  'filter[idempotencyKey]',
  'filter[tags]',
  'filter[createdAt][period]',
  'filter[createdAt][from]',
  'filter[createdAt][to]',
] as const;
export type ListQueryParameter = (typeof LIST_QUERY_PARAMETERS)[number];

const KNOWN_KEYS = new Set<string>(LIST_QUERY_PARAMETERS);

const LIST_KEYS = new Set(['filter[status]', 'filter[tags]']);

export type ListQueryParse = { ok: true; value: Omit<ListTokensQuery, 'environment'> } | { ok: false; message: string };

/**
 * The list route's query string (`page[...]`, `filter[...]`, as the SDK sends it) → a query.
 * Unlike Trigger.dev, a bad value is a 400 naming the parameter, never silently ignored.
 */
export function parseListQuery(raw: Record<string, unknown>, now: Date): ListQueryParse {
  const problems: string[] = [];
  const value = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (Array.isArray(v)) {
      // Lists may be repeated (`filter[tags]=a&filter[tags]=b` reads as "a,b"); a single value may not.
      if (LIST_KEYS.has(key)) return v.map(String).join(',');
      problems.push(`${key} was given ${v.length} times; give it once`);
      return undefined;
    }
    return typeof v === 'string' ? v : undefined;
  };

  for (const key of Object.keys(raw)) {
    if ((key.startsWith('page[') || key.startsWith('filter[')) && !KNOWN_KEYS.has(key)) {
      problems.push(`unknown query parameter ${key}; known: ${[...KNOWN_KEYS].join(', ')}`);
    }
  }

  const query: Omit<ListTokensQuery, 'environment'> = { pageSize: DEFAULT_PAGE_SIZE };

  const size = value('page[size]');
  if (size !== undefined) {
    const n = /^\d{1,4}$/.test(size.trim()) ? Number(size) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
      problems.push(`page[size] must be a whole number from 1 to ${MAX_PAGE_SIZE}, got "${truncate(size)}"`);
    } else query.pageSize = n;
  }

  for (const key of ['page[after]', 'page[before]'] as const) {
    const cursor = value(key);
    if (cursor === undefined) continue;
    const id = toInternalTokenId(cursor.trim());
    if (!isInternalTokenId(id)) problems.push(`${key} "${truncate(cursor)}" is not a valid cursor (use pagination.next/previous)`);
    else if (key === 'page[after]') query.after = id;
    else query.before = id;
  }
  if (query.before !== undefined) delete query.after;

  const status = value('filter[status]');
  if (status !== undefined) {
    const statuses = status.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
    const invalid = statuses.filter((s) => !isTokenStatus(s));
    if (invalid.length > 0 || statuses.length === 0) {
      problems.push(`filter[status] accepts a comma-separated list of ${TOKEN_STATUSES.join(', ')}; got "${truncate(status)}"`);
    } else query.statuses = [...new Set(statuses)] as TokenStatus[];
  }

  const idempotencyKey = value('filter[idempotencyKey]');
  if (idempotencyKey !== undefined) {
    if (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
      problems.push(`filter[idempotencyKey] must have 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    } else if (unstorableText(idempotencyKey)) {
      problems.push(`filter[idempotencyKey] ${unstorableText(idempotencyKey)}`);
    } else query.idempotencyKey = idempotencyKey;
  }

  const tags = value('filter[tags]');
  if (tags !== undefined) {
    const list = tags.split(',').map((t) => t.trim()).filter(Boolean);
    const unstorable = list.map(unstorableText).find(Boolean);
    if (list.length === 0 || list.length > 100 || list.some((t) => t.length > MAX_TAG_LENGTH)) {
      problems.push(`filter[tags] must be a comma-separated list of 1 to 100 tags of at most ${MAX_TAG_LENGTH} characters`);
    } else if (unstorable) {
      problems.push(`filter[tags]: a tag ${unstorable}`);
    } else query.tags = [...new Set(list)];
  }

  const lowerBounds: Date[] = [];
  const period = value('filter[createdAt][period]');
  if (period !== undefined) {
    const result = parseBoundedDuration('filter[createdAt][period]', period);
    if (!result.ok) problems.push(result.message);
    else lowerBounds.push(new Date(now.getTime() - result.ms));
  }
  const from = value('filter[createdAt][from]');
  if (from !== undefined) {
    const date = parseDateParam(from);
    if (!date) problems.push(`filter[createdAt][from] "${truncate(from)}" must be a millisecond timestamp or an ISO 8601 date`);
    else if (!isStorableDate(date)) problems.push(`filter[createdAt][from] "${truncate(from)}" is out of range (years 1 to 9999)`);
    else lowerBounds.push(date);
  }
  if (lowerBounds.length > 0) {
    query.createdFrom = new Date(Math.max(...lowerBounds.map((d) => d.getTime()))).toISOString();
  }
  const to = value('filter[createdAt][to]');
  if (to !== undefined) {
    const date = parseDateParam(to);
    if (!date) problems.push(`filter[createdAt][to] "${truncate(to)}" must be a millisecond timestamp or an ISO 8601 date`);
    else if (!isStorableDate(date)) problems.push(`filter[createdAt][to] "${truncate(to)}" is out of range (years 1 to 9999)`);
    else query.createdTo = date.toISOString();
  }

  return problems.length > 0 ? { ok: false, message: problems.join('; ') } : { ok: true, value: query };
}

/** The SDK sends dates as millisecond epochs; people send ISO dates. */
function parseDateParam(text: string): Date | undefined {
  const trimmed = text.trim();
  if (/^\d{1,15}$/.test(trimmed)) {
    const date = new Date(Number(trimmed));
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return parseIsoDate(trimmed);
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
