import { TokenHistoryEvent, TokenView, toFriendlyTokenId } from '@waitpoints/contracts';
import { SafeHtml, html } from '../html';
import type { DashboardSession } from '../session';
import { DASHBOARD, flash, fragment, page } from './layout';
import { approvalCard } from './token-approval';
import { displayableJson, prettyJson, prettyValue, relative, statusBadge, timeTag } from './format';

export interface TokenDetailModel {
  token: TokenView;
  events: TokenHistoryEvent[];
  callbackUrl: string;
  now: Date;
  notice?: { kind: 'success' | 'error' | 'info'; message: string };
  /** What the user typed in the complete form, kept when the server refused it. */
  completeDraft?: string;
  completeError?: string;
  /** Only for tokens created with an approval page. */
  approvalUrl?: string;
}

export function tokenDetailPage(session: DashboardSession, model: TokenDetailModel): string {
  const id = toFriendlyTokenId(model.token.id);
  return page({
    title: id,
    session,
    active: 'tokens',
    liveSrc: `${DASHBOARD}/frag/tokens/${id}`,
    body: html`
<nav class="crumbs" aria-label="Breadcrumb"><a href="${DASHBOARD}/tokens">Tokens</a> <span aria-hidden="true">/</span> <span class="mono">${id}</span></nav>
<div class="page-head token-head">
  <h1 class="mono">${id}</h1>
  <div data-part="status">${statusPart(model.token)}</div>
</div>
${model.notice ? flash(model.notice.kind, model.notice.message) : ''}
<div class="detail-grid">
  <div class="detail-main">
    <div data-part="details">${detailsPart(model)}</div>
    ${actionsPanel(session, model)}
    <div data-part="output">${outputPart(model.token)}</div>
    ${callbackCard(model.callbackUrl)}
    ${model.token.approval ? approvalCard(model.token.approval, model.approvalUrl) : ''}
  </div>
  <aside class="detail-side">
    <div data-part="timeline">${timelinePart(model.events)}</div>
  </aside>
</div>`,
  });
}

export function tokenDetailFragment(model: TokenDetailModel): string {
  return fragment({
    status: statusPart(model.token),
    details: detailsPart(model),
    output: outputPart(model.token),
    timeline: timelinePart(model.events),
  });
}

function statusPart(token: TokenView): SafeHtml {
  // data-token-status drives the page script: actions are hidden once the token has finished.
  return html`<span data-token-status="${token.status}">${statusBadge(token.status)}</span>`;
}

function detailsPart(model: TokenDetailModel): SafeHtml {
  const { token, now } = model;
  const row = (label: string, value: SafeHtml | string) => html`<div><dt>${label}</dt><dd>${value}</dd></div>`;
  return html`
<section class="card" aria-labelledby="fields">
  <h2 id="fields">Details</h2>
  <dl class="fields" data-testid="fields">
    ${row('Status', statusBadge(token.status))}
    ${row('Environment', token.environment)}
    ${row('Created', html`${timeTag(token.createdAt)} <span class="muted">(${relative(token.createdAt, now)})</span>`)}
    ${row(
      token.status === 'WAITING' ? 'Times out' : 'Timeout was',
      html`${timeTag(token.timeoutAt)} ${token.status === 'WAITING' ? html`<span class="muted">(${relative(token.timeoutAt, now)})</span>` : ''}`,
    )}
    ${token.completedAt ? row('Finished', html`${timeTag(token.completedAt)} <span class="muted">(${relative(token.completedAt, now)})</span>`) : ''}
    ${token.completedBy ? row('Finished by', token.completedBy) : ''}
    ${row('Tags', token.tags.length ? html`${token.tags.map((tag) => html`<span class="tag">${tag}</span>`)}` : html`<span class="muted">none</span>`)}
    ${row('Idempotency key', token.idempotencyKey ? html`<span class="mono">${token.idempotencyKey}</span>` : html`<span class="muted">none</span>`)}
    ${token.idempotencyKeyExpiresAt ? row('Key reserved until', timeTag(token.idempotencyKeyExpiresAt)) : ''}
    ${row('Version', String(token.version))}
  </dl>
</section>`;
}

/** Outside the live parts: a refresh must not reset the copy button or a selection in the field. */
function callbackCard(callbackUrl: string): SafeHtml {
  return html`
<section class="card">
  <div class="copy-field">
    <label for="callback-url">Callback URL <span class="muted small">(POST any JSON to it to complete the token; no API key needed)</span></label>
    <div class="copy-row">
      <input id="callback-url" type="text" readonly value="${callbackUrl}" class="mono" data-testid="callback-url">
      <button type="button" class="secondary" data-copy="#callback-url">Copy</button>
    </div>
  </div>
</section>`;
}

function outputPart(token: TokenView): SafeHtml {
  return html`
<section class="card" aria-labelledby="output">
  <h2 id="output">Output ${token.outputIsError ? html`<span class="badge badge-error">error</span>` : ''}</h2>
  ${outputBlock(token)}
</section>`;
}

function outputBlock(token: TokenView): SafeHtml {
  if (token.status === 'WAITING') return html`<p class="muted">No output yet: the token is waiting.</p>`;
  if (token.output === undefined) return html`<p class="muted">Completed without an output.</p>`;
  return html`<pre class="json" data-testid="output">${prettyJson(token.output)}</pre>`;
}

const EVENT_LABEL: Record<string, string> = {
  TokenCreated: 'Created',
  TokenCompleted: 'Completed',
  TokenTimedOut: 'Timed out',
  TokenCancelled: 'Cancelled',
  TokenRejected: 'Rejected',
  TokenDeadlineExtended: 'Deadline moved',
};

function timelinePart(events: TokenHistoryEvent[]): SafeHtml {
  return html`
<section class="card" aria-labelledby="timeline">
  <h2 id="timeline">Event timeline <span class="muted small">from the event store</span></h2>
  <ol class="timeline" data-testid="timeline">
    ${events.map((event) => timelineEntry(event))}
  </ol>
</section>`;
}

function timelineEntry(event: TokenHistoryEvent): SafeHtml {
  const actor = event.metadata?.actor;
  const data = event.data as Record<string, unknown>;
  const channel = typeof data.channel === 'string' ? data.channel : undefined;
  const forced = data.forced === true;
  // The output is stored as JSON text: shown as JSON within the payload when it is readable so.
  const payload = prettyValue(typeof data.output === 'string' ? { ...data, output: displayableJson(data.output) } : data);
  return html`<li class="event event-${event.type}" data-event-type="${event.type}">
    <div class="event-head">
      <span class="event-type">${EVENT_LABEL[event.type] ?? event.type}</span>
      <span class="muted small mono">${event.type} · v${event.streamVersion}</span>
    </div>
    <div class="event-meta small">
      ${timeTag(event.recordedAt, true)}
      ${actor ? html`<span class="chip" title="actor">by ${actor.type}${actor.id ? html`:${actor.id}` : ''}</span>` : ''}
      ${channel ? html`<span class="chip" title="completion channel">via ${channel}</span>` : ''}
      ${forced ? html`<span class="chip chip-warn">forced</span>` : ''}
    </div>
    <details ${payload.length < 600 ? html`open` : ''}>
      <summary>Payload${event.outputTruncatedFromChars ? html` <span class="muted">(output cut to a preview of ${event.outputTruncatedFromChars.toLocaleString('en-US')} characters; the full output is under Output)</span>` : ''}</summary>
      <pre class="json">${payload}</pre>
      <p class="muted small mono">event ${event.eventId} · correlation ${event.metadata?.correlationId ?? '—'}</p>
    </details>
  </li>`;
}

function actionsPanel(session: DashboardSession, model: TokenDetailModel): SafeHtml {
  const id = toFriendlyTokenId(model.token.id);
  const csrf = html`<input type="hidden" name="csrf" value="${session.csrfToken}">`;
  return html`
<section class="card actions" aria-labelledby="actions" data-while-waiting ${model.token.status === 'WAITING' ? '' : html`hidden`}>
  <h2 id="actions">Actions</h2>
  <form method="post" action="${DASHBOARD}/tokens/${id}/complete" class="stack" data-testid="complete-form"
    data-confirm="Complete ${id} with this payload? Waiters resume with it as the output." data-confirm-label="Complete"
    data-json-field="data">
    ${csrf}
    <label for="complete-data">Complete with a JSON payload</label>
    <textarea id="complete-data" name="data" rows="6" class="mono" spellcheck="false" required
      placeholder='{"approved": true}' aria-describedby="complete-data-error">${model.completeDraft ?? ''}</textarea>
    <p id="complete-data-error" class="field-error" ${model.completeError ? '' : html`hidden`}>${model.completeError ?? ''}</p>
    <div><button type="submit" class="primary">Complete…</button></div>
  </form>
  <div class="danger-zone">
    <form method="post" action="${DASHBOARD}/tokens/${id}/timeout" data-testid="timeout-form"
      data-confirm="Time out ${id} now, before its deadline? Waiters receive a timeout error." data-confirm-label="Time out now">
      ${csrf}
      <button type="submit" class="warn">Time out now…</button>
    </form>
    <form method="post" action="${DASHBOARD}/tokens/${id}/cancel" class="inline-form" data-testid="cancel-form"
      data-confirm="Cancel ${id}? Waiters receive a cancellation error." data-confirm-label="Cancel token">
      ${csrf}
      <input type="text" name="reason" maxlength="1000" placeholder="Reason (optional)" aria-label="Cancellation reason">
      <button type="submit" class="danger">Cancel token…</button>
    </form>
  </div>
</section>`;
}

/** The no-script path: the server asks for the confirmation the dialog would have asked for. */
export function confirmPage(
  session: DashboardSession,
  options: { tokenId: string; action: string; question: string; fields: Record<string, string>; preview?: string },
): string {
  return page({
    title: 'Confirm',
    session,
    active: 'tokens',
    body: html`
<section class="card narrow">
  <h1>Please confirm</h1>
  <p>${options.question}</p>
  ${options.preview !== undefined ? html`<pre class="json">${options.preview}</pre>` : ''}
  <form method="post" action="${DASHBOARD}/tokens/${options.tokenId}/${options.action}" class="buttons">
    <input type="hidden" name="csrf" value="${session.csrfToken}">
    <input type="hidden" name="confirmed" value="yes">
    ${Object.entries(options.fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
    <a class="button secondary" href="${DASHBOARD}/tokens/${options.tokenId}">Go back</a>
    <button type="submit" class="primary">Yes, go ahead</button>
  </form>
</section>`,
  });
}

export function messagePage(session: DashboardSession | undefined, title: string, message: string): string {
  return page({
    title,
    session,
    body: html`<section class="card narrow"><h1>${title}</h1><p>${message}</p>
      <p><a href="${DASHBOARD}${session ? '/tokens' : '/login'}">${session ? 'Back to the tokens' : 'Sign in'}</a></p></section>`,
  });
}
