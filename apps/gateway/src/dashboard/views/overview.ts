import { TOKEN_STATUSES, TokenStatsResult, TokenStatus } from '@waitpoints/contracts';

/** The token-service counts a status exactly up to this many tokens (EXACT_STATUS_COUNT_LIMIT there). */
const EXACT_COUNT_LABEL = '10,000';
import { SafeHtml, html } from '../html';
import type { LatenessSummary } from '../scheduler-lateness';
import type { DashboardSession } from '../session';
import { DASHBOARD, fragment, page } from './layout';
import { STATUS_LABEL, duration, plural, timeTag } from './format';

export function overviewPage(session: DashboardSession, stats: TokenStatsResult, lateness: LatenessSummary): string {
  return page({
    title: 'Overview',
    session,
    active: 'overview',
    liveSrc: `${DASHBOARD}/frag/overview`,
    liveIntervalMs: 5000,
    body: html`
<div class="page-head">
  <h1>Overview</h1>
  <p class="muted">Environment <strong>${session.environment}</strong> · read from the projection tables and the scheduler</p>
</div>
<div data-part="overview">${overviewCards(stats, lateness)}</div>`,
  });
}

export function overviewFragment(stats: TokenStatsResult, lateness: LatenessSummary): string {
  return fragment({ overview: overviewCards(stats, lateness) });
}

function overviewCards(stats: TokenStatsResult, lateness: LatenessSummary): SafeHtml {
  const now = new Date(stats.at);
  const total = TOKEN_STATUSES.reduce((sum, s) => sum + stats.byStatus[s], 0);
  const estimated = new Set(stats.estimated ?? []);
  // An estimated count reads "≈ 4,200,000": PostgreSQL's statistics, not a count (see token-insights.ts).
  const approx = (status: TokenStatus) => (estimated.has(status) ? '≈ ' : '');
  return html`
<section aria-labelledby="by-status">
  <h2 id="by-status">Tokens by status <span class="muted small">${estimated.size > 0 ? '≈ ' : ''}${plural(total, 'token')} in all</span></h2>
  <div class="cards cards-4">
    ${TOKEN_STATUSES.map(
      (status) => html`
    <a class="card stat stat-${status.toLowerCase()}" href="${DASHBOARD}/tokens?status=${status}" data-testid="count-${status}">
      <span class="stat-label">${STATUS_LABEL[status]}</span>
      <span class="stat-value">${approx(status)}${stats.byStatus[status].toLocaleString('en-US')}</span>
    </a>`,
    )}
  </div>
  ${
    estimated.size > 0
      ? html`<p class="muted small" data-testid="estimated-counts">≈ estimated from PostgreSQL's table statistics: above ${EXACT_COUNT_LABEL} tokens a status is not counted one by one.</p>`
      : ''
  }
</section>
<div class="cards cards-2">
  <section class="card" aria-labelledby="oldest">
    <h2 id="oldest">Oldest waiting token</h2>
    ${
      stats.oldestWaitingCreatedAt
        ? html`<p class="stat-value" data-testid="oldest-waiting">${duration(now.getTime() - new Date(stats.oldestWaitingCreatedAt).getTime())}</p>
    <p class="muted small">waiting since ${timeTag(stats.oldestWaitingCreatedAt)}</p>`
        : html`<p class="stat-value muted" data-testid="oldest-waiting">none</p><p class="muted small">No token is waiting.</p>`
    }
  </section>
  <section class="card" aria-labelledby="lateness">
    <h2 id="lateness">Timeout lateness p99</h2>
    ${latenessCard(lateness)}
  </section>
</div>
<section class="card" aria-labelledby="last-hour">
  <h2 id="last-hour">Last hour</h2>
  <dl class="flow" data-testid="last-hour">
    <div><dt>Created</dt><dd>${stats.lastHour.created.toLocaleString('en-US')}</dd></div>
    <div><dt>Completed</dt><dd>${stats.lastHour.completed.toLocaleString('en-US')}</dd></div>
    <div><dt>Timed out</dt><dd>${stats.lastHour.timedOut.toLocaleString('en-US')}</dd></div>
    <div><dt>Cancelled</dt><dd>${stats.lastHour.cancelled.toLocaleString('en-US')}</dd></div>
  </dl>
  <p class="muted small">From ${timeTag(new Date(now.getTime() - 3_600_000).toISOString())} to ${timeTag(stats.at)}.</p>
</section>`;
}

function latenessCard(lateness: LatenessSummary): SafeHtml {
  if (!lateness.available) {
    return html`<p class="stat-value muted" data-testid="lateness-p99">n/a</p>
    <p class="muted small">Scheduler metrics unavailable: ${lateness.reason}.</p>`;
  }
  if (lateness.p99Seconds === undefined) {
    return html`<p class="stat-value muted" data-testid="lateness-p99">—</p>
    <p class="muted small">No timeout has fired since the scheduler started.</p>`;
  }
  return html`<p class="stat-value" data-testid="lateness-p99">${formatSeconds(lateness.p99Seconds)}</p>
    <p class="muted small">Deadline to firing, over ${plural(lateness.count, 'timeout')} fired by the answering
    scheduler instance since it started (estimated from its histogram buckets).</p>`;
}

function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
  if (seconds < 60) return `${seconds.toFixed(2)} s`;
  return duration(seconds * 1000);
}
