/**
 * Durations as the seeds document them: `30s`, `1m`, `2h`, `3d`, `4w`, compounds such as
 * `1h30m`, and `hr` as an alias of `h` (Trigger.dev accepts it). Anything else is an error;
 * Trigger.dev silently ignores bad values, which we deliberately do not copy.
 */
const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const WHOLE = /^(\d+(?:w|d|hr|h|m|s))+$/;
const PART = /(\d+)(w|d|hr|h|m|s)/g;

export const DURATION_HINT = 'use a duration such as 30s, 10m, 2h, 3d, 4w or 1h30m';

/** Milliseconds of a duration string, or undefined when it is not one. */
export function parseDuration(value: string): number | undefined {
  const text = value.trim();
  if (!WHOLE.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit];
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** Strict ISO 8601 date or date-time (what `Date#toISOString` and most clients send). */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

export function parseIsoDate(value: string): Date | undefined {
  const text = value.trim();
  if (!ISO_DATE.test(text)) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A timeout as the client gave it: relative (resolved against the token-service clock) or absolute. */
export type TimeoutSpec = { afterMs: number } | { at: string };

/** Longest wait we accept: far enough for real approvals, short of JavaScript's date range. */
export const MAX_TIMEOUT_MS = 100 * 365 * 86_400_000;

export type TimeoutParse = { ok: true; value: TimeoutSpec } | { ok: false; message: string };

/**
 * Validates a `timeout` field: a duration or an ISO date in the future.
 * `now` is the caller's clock; the token-service resolves relative timeouts with its own.
 */
export function parseTimeout(value: unknown, now: Date): TimeoutParse {
  if (value instanceof Date) value = value.toISOString();
  if (typeof value !== 'string' || value.trim() === '') {
    return { ok: false, message: `timeout must be a string: ${DURATION_HINT}, or an ISO 8601 date` };
  }
  const ms = parseDuration(value);
  if (ms !== undefined) {
    if (ms <= 0) return { ok: false, message: `timeout "${value}" must be longer than zero` };
    if (ms > MAX_TIMEOUT_MS) return { ok: false, message: `timeout "${value}" is longer than 100 years` };
    return { ok: true, value: { afterMs: ms } };
  }
  const date = parseIsoDate(value);
  if (!date) {
    return { ok: false, message: `timeout "${value}" is not valid: ${DURATION_HINT}, or an ISO 8601 date` };
  }
  if (date.getTime() <= now.getTime()) {
    return { ok: false, message: `timeout "${value}" is in the past; give a future date or a duration` };
  }
  if (date.getTime() - now.getTime() > MAX_TIMEOUT_MS) {
    return { ok: false, message: `timeout "${value}" is more than 100 years away` };
  }
  return { ok: true, value: { at: date.toISOString() } };
}

/**
 * Whether PostgreSQL's timestamptz takes the date as JavaScript writes it: years 1 to 9999.
 * Year 0, negative years and years past 9999 come out of toISOString in forms it refuses.
 */
export function isStorableDate(date: Date): boolean {
  const year = date.getUTCFullYear();
  return !Number.isNaN(date.getTime()) && year >= 1 && year <= 9999;
}

/** A positive duration of at most MAX_TIMEOUT_MS, or the message saying what is wrong with it. */
export function parseBoundedDuration(field: string, value: unknown): { ok: true; ms: number } | { ok: false; message: string } {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined || ms <= 0) return { ok: false, message: `${field} "${String(value).slice(0, 64)}" is not valid: ${DURATION_HINT}` };
  if (ms > MAX_TIMEOUT_MS) return { ok: false, message: `${field} "${String(value).slice(0, 64)}" is longer than 100 years` };
  return { ok: true, ms };
}

export function resolveTimeout(spec: TimeoutSpec, now: Date): Date {
  return 'afterMs' in spec ? new Date(now.getTime() + spec.afterMs) : new Date(spec.at);
}
