import { ListTokensResult, TOKEN_STATUSES, TokenView, toFriendlyTokenId } from '@waitpoints/contracts';
import { SafeHtml, html } from '../html';
import type { DashboardSession } from '../session';
import { TokenFilters, filtersQueryString, hasAnyFilter } from '../token-filters';
import { DASHBOARD, flash, fragment, page } from './layout';
import { STATUS_LABEL, relative, statusBadge, timeTag } from './format';

const PERIODS: [string, string][] = [
  ['', 'Any time'],
  ['15m', 'Last 15 minutes'],
  ['1h', 'Last hour'],
  ['1d', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
];

export interface TokenListModel {
  filters: TokenFilters;
  /** Absent when the filters were invalid. */
  page?: ListTokensResult;
  error?: string;
  now: Date;
}

export function tokensPage(session: DashboardSession, model: TokenListModel): string {
  const query = filtersQueryString(model.filters, model.filters);
  return page({
    title: 'Tokens',
    session,
    active: 'tokens',
    liveSrc: model.page ? `${DASHBOARD}/frag/tokens${query}` : undefined,
    body: html`
<div class="page-head">
  <h1>Tokens</h1>
  <p class="muted">Newest first · times in UTC · updates live while this tab is visible</p>
</div>
${filterForm(model.filters)}
${model.error ? flash('error', model.error) : ''}
<div data-part="tokens">${model.page ? tokenTable(model.filters, model.page, model.now) : ''}</div>`,
  });
}

export function tokensFragment(model: TokenListModel & { page: ListTokensResult }): string {
  return fragment({ tokens: tokenTable(model.filters, model.page, model.now) });
}

function filterForm(f: TokenFilters): SafeHtml {
  const custom = f.period && !PERIODS.some(([value]) => value === f.period);
  return html`
<form class="filters card" method="get" action="${DASHBOARD}/tokens" aria-label="Filters">
  <fieldset class="statuses">
    <legend>Status</legend>
    ${TOKEN_STATUSES.map(
      (status) => html`<label class="check"><input type="checkbox" name="status" value="${status}"
        ${f.status.includes(status) ? html`checked` : ''}> ${STATUS_LABEL[status]}</label>`,
    )}
  </fieldset>
  <label>Tags <input type="text" name="tags" value="${f.tags}" placeholder="order:42, vip" title="Any of these tags (comma-separated)"></label>
  <label>Idempotency key <input type="text" name="idempotencyKey" value="${f.idempotencyKey}"></label>
  <label>Created
    <select name="period">
      ${PERIODS.map(([value, label]) => html`<option value="${value}" ${f.period === value ? html`selected` : ''}>${label}</option>`)}
      ${custom ? html`<option value="${f.period}" selected>Last ${f.period}</option>` : ''}
    </select>
  </label>
  <label>From (UTC) <input type="datetime-local" name="from" value="${f.from}" step="1"></label>
  <label>To (UTC) <input type="datetime-local" name="to" value="${f.to}" step="1"></label>
  <label>Per page
    <select name="size">
      ${['25', '50', '100'].map((n) => html`<option value="${n}" ${(f.size || '25') === n ? html`selected` : ''}>${n}</option>`)}
    </select>
  </label>
  <div class="filter-buttons">
    <button type="submit" class="primary">Apply</button>
    ${hasAnyFilter(f) ? html`<a class="button secondary" href="${DASHBOARD}/tokens">Clear</a>` : ''}
  </div>
</form>`;
}

function tokenTable(filters: TokenFilters, result: ListTokensResult, now: Date): SafeHtml {
  if (result.tokens.length === 0) {
    return html`<div class="card empty" data-testid="no-tokens">
      ${hasAnyFilter(filters) || filters.after || filters.before ? 'No tokens match these filters.' : 'No tokens yet in this environment.'}
    </div>`;
  }
  return html`
<div class="card table-card">
<table class="tokens" data-testid="token-table">
  <thead><tr><th>Token</th><th>Status</th><th>Created</th><th>Timeout</th><th>Finished</th><th>Tags</th><th>Idempotency key</th></tr></thead>
  <tbody>
    ${result.tokens.map((token) => tokenRow(token, now))}
  </tbody>
</table>
</div>
${pager(filters, result)}`;
}

function tokenRow(token: TokenView, now: Date): SafeHtml {
  const id = toFriendlyTokenId(token.id);
  return html`<tr data-token-id="${id}">
    <td class="mono"><a href="${DASHBOARD}/tokens/${id}">${id}</a></td>
    <td>${statusBadge(token.status)}</td>
    <td title="${token.createdAt}">${relative(token.createdAt, now)}</td>
    <td title="${token.timeoutAt}">${token.status === 'WAITING' ? relative(token.timeoutAt, now) : timeTag(token.timeoutAt)}</td>
    <td>${token.completedAt ? html`<span title="${token.completedAt}">${relative(token.completedAt, now)}</span>` : html`<span class="muted">—</span>`}</td>
    <td>${token.tags.map((tag) => html`<span class="tag">${tag}</span>`)}</td>
    <td class="mono truncate" title="${token.idempotencyKey ?? ''}">${token.idempotencyKey ?? ''}</td>
  </tr>`;
}

function pager(filters: TokenFilters, result: ListTokensResult): SafeHtml {
  if (!result.next && !result.previous) return html``;
  const link = (label: string, cursor: { after?: string; before?: string } | undefined, rel: string) =>
    cursor
      ? html`<a class="button secondary" rel="${rel}" href="${DASHBOARD}/tokens${filtersQueryString(filters, cursor)}">${label}</a>`
      : html`<span class="button secondary disabled" aria-disabled="true">${label}</span>`;
  return html`<nav class="pager" aria-label="Pages">
    ${link('← Newer', result.previous ? { before: result.previous } : undefined, 'prev')}
    ${link('Older →', result.next ? { after: result.next } : undefined, 'next')}
  </nav>`;
}
