/**
 * A token's approval page (a Waitpoints extension): a person opens the token's signed approval
 * URL, reads these texts and approves or rejects, which completes the token with the output
 * `ApprovalOutput` and the channel `approval_page`. Plain text only; the page escapes it.
 */
export interface ApprovalRequest {
  title: string;
  description?: string;
  /** Text of the approve button (default "Approve"). */
  approveLabel?: string;
  /** Text of the reject button (default "Reject"). */
  rejectLabel?: string;
  /** The person must write a comment to approve or reject. */
  commentRequired?: boolean;
}

/** The output of a token completed on its approval page. */
export interface ApprovalOutput {
  approved: boolean;
  comment?: string;
}

export const APPROVAL_LIMITS = {
  title: 200,
  description: 4_000,
  label: 40,
  comment: 4_000,
} as const;

export const DEFAULT_APPROVE_LABEL = 'Approve';
export const DEFAULT_REJECT_LABEL = 'Reject';

/** Asks for one token by id alone, for its approval page (the gateway checked the URL's signature). */
export interface ApprovalTokenQuery {
  tokenId: string;
}
