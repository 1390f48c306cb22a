import { createHash } from 'node:crypto';
import { APPROVAL_LIMITS, ApprovalRequest, DEFAULT_APPROVE_LABEL, DEFAULT_REJECT_LABEL, TokenView } from '@waitpoints/contracts';
import { SafeHtml, html, unsafeRaw } from '../../dashboard/html';
import { timeTag } from '../../dashboard/views/format';

/**
 * The approval page: one small self-contained HTML document, no script, readable on a phone
 * (viewport meta, fluid layout), with labelled fields and contrast above WCAG AA. Its one style
 * block is allowed by its hash in the CSP, so the policy needs no 'unsafe-inline'.
 */
const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; background: #f3f4f6; }
main { max-width: 40rem; margin: 0 auto; padding: 1.25rem 1rem 3rem; }
.card { background: #fff; border: 1px solid #d0d5dd; border-radius: 12px; padding: 1.25rem; }
h1 { font-size: 1.4rem; line-height: 1.3; margin: 0 0 .75rem; overflow-wrap: anywhere; }
.description { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0 0 1rem; }
.meta { color: #475467; font-size: .95rem; margin: 0 0 1rem; }
label { display: block; font-weight: 600; margin: 0 0 .35rem; }
.hint { font-weight: 400; color: #475467; }
textarea { width: 100%; min-height: 7rem; font: inherit; padding: .6rem; border: 1px solid #667085; border-radius: 8px; resize: vertical; }
textarea:focus, button:focus { outline: 3px solid #93c5fd; outline-offset: 2px; }
.buttons { display: flex; flex-wrap: wrap; gap: .75rem; margin-top: 1rem; }
button { flex: 1 1 10rem; min-height: 2.75rem; font: inherit; font-weight: 600; border-radius: 8px; border: 2px solid transparent; cursor: pointer; padding: .5rem 1rem; }
.approve { background: #047857; color: #fff; }
.reject { background: #fff; color: #b42318; border-color: #b42318; }
.error { background: #fee4e2; color: #7a271a; border-radius: 8px; padding: .6rem .8rem; margin: 0 0 1rem; }
.outcome { font-size: 1.15rem; font-weight: 700; margin: 0 0 .5rem; }
.approved { color: #05603a; } .rejected { color: #b42318; } .ended { color: #344054; }
blockquote { margin: .5rem 0 0; padding: .5rem .75rem; border-left: 4px solid #98a2b3; background: #f9fafb; white-space: pre-wrap; overflow-wrap: anywhere; }
footer { color: #475467; font-size: .85rem; margin-top: 1rem; text-align: center; }
@media (max-width: 30rem) { main { padding: .75rem .5rem 2rem; } .card { padding: 1rem; } h1 { font-size: 1.25rem; } }
`;

export const APPROVAL_PAGE_STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/** Headers of every approval page answer: no script at all, no framing, no referrer (the URL is a capability), no caching. */
export const APPROVAL_PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': `default-src 'none'; style-src ${APPROVAL_PAGE_STYLE_HASH}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
  'X-Robots-Tag': 'noindex, nofollow',
};

function document(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${title}</title>
<style>${unsafeRaw(STYLE)}</style>
</head>
<body>
<main>
${body}
<footer>Waitpoints approval</footer>
</main>
</body>
</html>`.value;
}

export interface ApprovalFormModel {
  token: TokenView & { approval: ApprovalRequest };
  /** The page's own URL (path), where the form posts. */
  action: string;
  formToken: string;
  error?: string;
  comment?: string;
}

/** A waiting token: its texts, when it times out, and the form. */
export function approvalFormPage(model: ApprovalFormModel): string {
  const { approval, timeoutAt } = model.token;
  const required = approval.commentRequired === true;
  return document(
    approval.title,
    html`
<section class="card" aria-labelledby="title">
  <h1 id="title">${approval.title}</h1>
  ${approval.description ? html`<p class="description" data-testid="description">${approval.description}</p>` : ''}
  <p class="meta">Waiting for a decision. This request times out at ${timeTag(timeoutAt)}.</p>
  ${model.error ? html`<p class="error" role="alert" id="form-error">${model.error}</p>` : ''}
  <form method="post" action="${model.action}">
    <input type="hidden" name="csrf" value="${model.formToken}">
    <label for="comment">Comment <span class="hint">(${required ? 'required' : 'optional'}, at most ${APPROVAL_LIMITS.comment} characters)</span></label>
    <textarea id="comment" name="comment" maxlength="${APPROVAL_LIMITS.comment}" ${required ? unsafeRaw('required aria-required="true"') : ''}
      ${model.error ? unsafeRaw('aria-invalid="true" aria-describedby="form-error"') : ''}>${model.comment ?? ''}</textarea>
    <div class="buttons">
      <button type="submit" name="decision" value="approve" class="approve">${approval.approveLabel ?? DEFAULT_APPROVE_LABEL}</button>
      <button type="submit" name="decision" value="reject" class="reject">${approval.rejectLabel ?? DEFAULT_REJECT_LABEL}</button>
    </div>
  </form>
</section>`,
  );
}

/** A finished token: what happened and when; nothing to submit. */
export function approvalFinishedPage(token: TokenView & { approval: ApprovalRequest }): string {
  const { approval } = token;
  return document(
    approval.title,
    html`
<section class="card" aria-labelledby="title">
  <h1 id="title">${approval.title}</h1>
  ${approval.description ? html`<p class="description">${approval.description}</p>` : ''}
  <div data-testid="outcome" data-status="${token.status}" role="status">${outcome(token)}</div>
</section>`,
  );
}

function outcome(token: TokenView): SafeHtml {
  const at = timeTag(token.completedAt);
  switch (token.status) {
    case 'TIMED_OUT':
      return html`<h2 class="outcome ended">This request timed out</h2><p class="meta">Nobody answered before ${at}. There is nothing left to decide.</p>`;
    case 'CANCELLED':
      return html`<h2 class="outcome ended">This request was cancelled</h2><p class="meta">Cancelled at ${at}. There is nothing left to decide.</p>`;
    case 'REJECTED':
      return html`<h2 class="outcome ended">This request was closed</h2><p class="meta">Ended with an error at ${at}, not on this page. There is nothing left to decide.</p>`;
    case 'COMPLETED': {
      const decision = token.completedBy === 'approval_page' ? approvalDecision(token.output) : undefined;
      if (!decision) {
        return html`<h2 class="outcome ended">This request was answered elsewhere</h2><p class="meta">Completed at ${at}, not on this page.</p>`;
      }
      return html`<h2 class="outcome ${decision.approved ? 'approved' : 'rejected'}">${decision.approved ? 'Approved' : 'Rejected'}</h2>
<p class="meta">Answered on this page at ${at}.</p>
${decision.comment !== undefined ? html`<p class="meta">Comment:</p><blockquote data-testid="comment">${decision.comment}</blockquote>` : ''}`;
    }
    default:
      return html`<h2 class="outcome ended">Waiting</h2>`;
  }
}

function approvalDecision(output: string | undefined): { approved: boolean; comment?: string } | undefined {
  if (output === undefined) return undefined;
  try {
    const value = JSON.parse(output) as { approved?: unknown; comment?: unknown };
    if (typeof value?.approved !== 'boolean') return undefined;
    return { approved: value.approved, ...(typeof value.comment === 'string' && { comment: value.comment }) };
  } catch {
    return undefined;
  }
}

/** An answer that is not the page: a bad link, a refused form. */
export function approvalMessagePage(title: string, message: string): string {
  return document(title, html`<section class="card" aria-labelledby="title"><h1 id="title">${title}</h1><p>${message}</p></section>`);
}
