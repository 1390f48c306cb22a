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
import { Rule, declaredFields, problemsOf, toDto } from '../../http/request-validation';
import { unstorableText } from '../../http/storable-text';

export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;
const MAX_FILTER_TAGS = 100;

/** A query parameter as the query parser hands it over: an array when it was given more than once. */
type QueryValue = string | string[];

/** A parameter's text read into what the query needs, or why it cannot be. */
type Reading<T> = { ok: true; value: T } | { ok: false; message: string };
type Reader<T> = (text: string, parameter: string) => Reading<T>;

/** Parameters holding a comma-separated list, which may also be given more than once. */
const REPEATABLE = new Set(['filter[status]', 'filter[tags]']);

/**
 * A repeated list parameter (`filter[tags]=a&filter[tags]=b`) reads as "a,b"; a repeated
 * single value is a mistake the caller should hear about.
 */
function readParameter<T>(value: QueryValue, parameter: string, reader: Reader<T>): Reading<T> {
  if (!Array.isArray(value)) return reader(String(value), parameter);
  if (REPEATABLE.has(parameter)) return reader(value.map(String).join(','), parameter);
  return { ok: false, message: `${parameter} was given ${value.length} times; give it once` };
}

/** One rule per parameter, so each gets the one message that fits (the reader's). */
const Parameter = <T>(reader: Reader<T>) =>
  Rule('listQueryParameter', (value, parameter) => {
    if (value === undefined) return undefined;
    const reading = readParameter(value as QueryValue, parameter, reader);
    return reading.ok ? undefined : reading.message;
  });

const truncate = (text: string) => (text.length > 64 ? `${text.slice(0, 64)}…` : text);
const ok = <T>(value: T): Reading<T> => ({ ok: true, value });
const refused = (message: string): Reading<never> => ({ ok: false, message });

const pageSize: Reader<number> = (text, parameter) => {
  const n = /^\d{1,4}$/.test(text.trim()) ? Number(text) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= MAX_PAGE_SIZE
    ? ok(n)
    : refused(`${parameter} must be a whole number from 1 to ${MAX_PAGE_SIZE}, got "${truncate(text)}"`);
};

const cursor: Reader<string> = (text, parameter) => {
  const id = toInternalTokenId(text.trim());
  return isInternalTokenId(id) ? ok(id) : refused(`${parameter} "${truncate(text)}" is not a valid cursor (use pagination.next/previous)`);
};

const statuses: Reader<TokenStatus[]> = (text, parameter) => {
  const given = text
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  return given.length > 0 && given.every(isTokenStatus)
    ? ok([...new Set(given)] as TokenStatus[])
    : refused(`${parameter} accepts a comma-separated list of ${TOKEN_STATUSES.join(', ')}; got "${truncate(text)}"`);
};

const idempotencyKey: Reader<string> = (text, parameter) => {
  if (text.length === 0 || text.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    return refused(`${parameter} must have 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  const unstorable = unstorableText(text);
  return unstorable ? refused(`${parameter} ${unstorable}`) : ok(text);
};

const tags: Reader<string[]> = (text, parameter) => {
  const list = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (list.length === 0 || list.length > MAX_FILTER_TAGS || list.some((t) => t.length > MAX_TAG_LENGTH)) {
    return refused(`${parameter} must be a comma-separated list of 1 to ${MAX_FILTER_TAGS} tags of at most ${MAX_TAG_LENGTH} characters`);
  }
  const unstorable = list.map(unstorableText).find(Boolean);
  return unstorable ? refused(`${parameter}: a tag ${unstorable}`) : ok([...new Set(list)]);
};

const period: Reader<number> = (text, parameter) => {
  const result = parseBoundedDuration(parameter, text);
  return result.ok ? ok(result.ms) : refused(result.message);
};

/** The SDK sends dates as millisecond epochs; people send ISO dates. PostgreSQL stores years 1 to 9999. */
const date: Reader<Date> = (text, parameter) => {
  const trimmed = text.trim();
  const parsed = /^\d{1,15}$/.test(trimmed) ? new Date(Number(trimmed)) : parseIsoDate(trimmed);
  if (!parsed || Number.isNaN(parsed.getTime())) {
    return refused(`${parameter} "${truncate(text)}" must be a millisecond timestamp or an ISO 8601 date`);
  }
  return isStorableDate(parsed) ? ok(parsed) : refused(`${parameter} "${truncate(text)}" is out of range (years 1 to 9999)`);
};

/**
 * The query string of `GET /api/v1/waitpoints/tokens`, as the SDK sends it (`page[…]`,
 * `filter[…]`; the fields carry the wire names). Unlike Trigger.dev, a bad value is a 400 naming
 * the parameter, never silently ignored. Documented parameter by parameter in route-docs.ts.
 */
export class ListTokensRequest {
  @Parameter(pageSize) 'page[size]'?: QueryValue;
  @Parameter(cursor) 'page[after]'?: QueryValue;
  @Parameter(cursor) 'page[before]'?: QueryValue;
  @Parameter(statuses) 'filter[status]'?: QueryValue;
  @Parameter(idempotencyKey) 'filter[idempotencyKey]'?: QueryValue;
  @Parameter(tags) 'filter[tags]'?: QueryValue;
  @Parameter(period) 'filter[createdAt][period]'?: QueryValue;
  @Parameter(date) 'filter[createdAt][from]'?: QueryValue;
  @Parameter(date) 'filter[createdAt][to]'?: QueryValue;

  /** The query this (valid) request asks for; a period counts back from `now`. */
  toQuery(now: Date): ListTokensFilter {
    const query: ListTokensFilter = { pageSize: this.parameter('page[size]', pageSize) ?? DEFAULT_PAGE_SIZE };
    // before wins over after: a page cannot be read in both directions.
    const before = this.parameter('page[before]', cursor);
    const after = before === undefined ? this.parameter('page[after]', cursor) : undefined;
    if (before !== undefined) query.before = before;
    if (after !== undefined) query.after = after;
    const status = this.parameter('filter[status]', statuses);
    if (status !== undefined) query.statuses = status;
    const key = this.parameter('filter[idempotencyKey]', idempotencyKey);
    if (key !== undefined) query.idempotencyKey = key;
    const tagList = this.parameter('filter[tags]', tags);
    if (tagList !== undefined) query.tags = tagList;
    // The later of period and from bounds the start.
    const within = this.parameter('filter[createdAt][period]', period);
    const lowerBounds = [
      within === undefined ? undefined : now.getTime() - within,
      this.parameter('filter[createdAt][from]', date)?.getTime(),
    ];
    const from = lowerBounds.filter((bound): bound is number => bound !== undefined);
    if (from.length > 0) query.createdFrom = new Date(Math.max(...from)).toISOString();
    const to = this.parameter('filter[createdAt][to]', date);
    if (to !== undefined) query.createdTo = to.toISOString();
    return query;
  }

  private parameter<T>(parameter: ListQueryParameter, reader: Reader<T>): T | undefined {
    const value = this[parameter];
    if (value === undefined) return undefined;
    const reading = readParameter(value, parameter, reader);
    if (!reading.ok) throw new Error(`read an invalid list query: ${reading.message}`);
    return reading.value;
  }
}

export type ListTokensFilter = Omit<ListTokensQuery, 'environment'>;
export type ListQueryParameter = Exclude<keyof ListTokensRequest, 'toQuery'>;

/** Every `page[…]`/`filter[…]` parameter the list route accepts (the API description lists the same). */
export const LIST_QUERY_PARAMETERS = declaredFields(ListTokensRequest) as ListQueryParameter[];

export type ListQueryParse = { ok: true; value: ListTokensFilter } | { ok: false; message: string };

/**
 * A raw query string (the parser's object) → the list query, or every problem with it in one
 * message. Other parameters are left alone (caches and proxies add their own), but an unknown
 * `page[…]`/`filter[…]` one is a typo the caller should hear about.
 */
export function parseListQuery(raw: Record<string, unknown>, now: Date): ListQueryParse {
  const unknown = Object.keys(raw)
    .filter((key) => (key.startsWith('page[') || key.startsWith('filter[')) && !LIST_QUERY_PARAMETERS.includes(key as ListQueryParameter))
    .map((key) => `unknown query parameter ${key}; known: ${LIST_QUERY_PARAMETERS.join(', ')}`);
  const request = toDto(ListTokensRequest, raw);
  const problems = [...unknown, ...problemsOf(request)];
  return problems.length > 0 ? { ok: false, message: problems.join('; ') } : { ok: true, value: request.toQuery(now) };
}
