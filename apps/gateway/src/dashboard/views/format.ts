import { TokenStatus } from '@waitpoints/contracts';
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

/** JSON text pretty-printed; anything else shown as it is. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}
