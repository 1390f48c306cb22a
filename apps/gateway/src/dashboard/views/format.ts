import { TokenStatus } from '@waitpoints/contracts';
import { nestingDeeperThan } from '../../http/body-parsers';
import { SafeHtml, html } from '../html';

/** The dashboard shows every time in UTC, to the second (timeline: to the millisecond). */
export function utc(iso: string, withMs = false): string {
  const text = new Date(iso).toISOString().replace('T', ' ');
  return `${withMs ? text.slice(0, 23) : text.slice(0, 19)} UTC`;
}

export function timeTag(iso: string | undefined, withMs = false): SafeHtml {
  return iso ? html`<time datetime="${iso}" title="${iso}">${utc(iso, withMs)}</time>` : html`<span class="muted">—</span>`;
}

/** 42s, 3m 12s, 2h 5m, 3d 4h: the two largest units, which is what a person reads at a glance. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const units: [number, string][] = [
    [86_400, 'd'],
    [3_600, 'h'],
    [60, 'm'],
    [1, 's'],
  ];
  const i = units.findIndex(([size]) => s >= size);
  const [bigSize, bigUnit] = units[i];
  const [smallSize, smallUnit] = units[i + 1];
  const big = Math.floor(s / bigSize);
  const small = Math.floor((s - big * bigSize) / smallSize);
  return small > 0 ? `${big}${bigUnit} ${small}${smallUnit}` : `${big}${bigUnit}`;
}

export function relative(iso: string, now: Date): string {
  const delta = new Date(iso).getTime() - now.getTime();
  if (Math.abs(delta) < 1000) return 'now';
  return delta > 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`;
}

export const STATUS_LABEL: Record<TokenStatus, string> = {
  WAITING: 'Waiting',
  COMPLETED: 'Completed',
  TIMED_OUT: 'Timed out',
  CANCELLED: 'Cancelled',
  REJECTED: 'Rejected',
};

export function statusBadge(status: TokenStatus): SafeHtml {
  return html`<span class="badge badge-${status.toLowerCase()}" data-status="${status}">${STATUS_LABEL[status]}</span>`;
}

/**
 * JSON shown to people is pretty-printed only while that stays cheap and readable: indentation
 * grows with depth (a value nested 5,000 deep would print megabytes of spaces, and JSON.stringify
 * runs out of stack before that), and a large text gains a line per value. Anything deeper or
 * longer is shown as stored, which is valid JSON already.
 */
const PRETTY_MAX_DEPTH = 32;
const PRETTY_MAX_CHARS = 256 * 1024;

/** JSON text as a value to pretty-print along with others; the text itself when it is not JSON or should not be pretty-printed. */
export function displayableJson(text: string): unknown {
  if (text.length > PRETTY_MAX_CHARS || nestingDeeperThan(text, PRETTY_MAX_DEPTH)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** JSON text pretty-printed (see displayableJson); anything else shown as it is. */
export function prettyJson(text: string): string {
  const value = displayableJson(text);
  return value === text ? text : prettyValue(value);
}

/** A value pretty-printed as JSON, or a note that it cannot be: never an error on a page. */
export function prettyValue(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return '(this value cannot be shown)';
  }
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}
