import { ApprovalRequest, DEFAULT_APPROVE_LABEL, DEFAULT_REJECT_LABEL } from '@waitpoints/contracts';
import { SafeHtml, html } from '../html';

/** The approval page of a token created with one: its texts as the approver sees them, and its link. */
export function approvalCard(approval: ApprovalRequest, approvalUrl: string | undefined): SafeHtml {
  return html`
<section class="card" aria-labelledby="approval" data-testid="approval">
  <h2 id="approval">Approval page</h2>
  <dl class="fields">
    <div><dt>Title</dt><dd data-testid="approval-title">${approval.title}</dd></div>
    <div><dt>Description</dt><dd class="pre-wrap" data-testid="approval-description">${approval.description ?? html`<span class="muted">none</span>`}</dd></div>
    <div><dt>Buttons</dt><dd>${approval.approveLabel ?? DEFAULT_APPROVE_LABEL} / ${approval.rejectLabel ?? DEFAULT_REJECT_LABEL}</dd></div>
    <div><dt>Comment</dt><dd>${approval.commentRequired ? 'required' : 'optional'}</dd></div>
  </dl>
  ${
    approvalUrl
      ? html`<div class="copy-field">
    <label for="approval-url">Approval URL <span class="muted small">(send it to the approver; anyone with it can decide)</span></label>
    <div class="copy-row">
      <input id="approval-url" type="text" readonly value="${approvalUrl}" class="mono" data-testid="approval-url">
      <button type="button" class="secondary" data-copy="#approval-url">Copy</button>
    </div>
  </div>`
      : ''
  }
</section>`;
}
