import type { ApprovalRequest } from '@waitpoints/contracts';

export type { ApprovalOutput, ApprovalRequest } from '@waitpoints/contracts';
export type TokenStatus = 'WAITING' | 'COMPLETED' | 'TIMED_OUT' | 'CANCELLED' | 'REJECTED';

/** A token id (`waitpoint_…`, or the bare id) or anything that has one, such as a created token. */
export type TokenRef = string | { id: string };

export interface CreateTokenOptions {
  /** A duration (`30s`, `10m`, `2h`, `3d`, `4w`, `1h30m`) or a future date. Default `10m`. */
  timeout?: string | Date;
  /** Returns the same token for the same key while the key is live (`isCached: true`). */
  idempotencyKey?: string;
  /** How long the key stays live. Default `1h`. */
  idempotencyKeyTTL?: string;
  /** At most 10 tags of at most 128 characters; `prefix:value` style is recommended. */
  tags?: string | string[];
  /**
   * An approval page for a person (a Waitpoints extension): the created token gets an
   * `approvalUrl` that shows these texts with Approve / Reject buttons. Submitting completes the
   * token with `{ approved, comment? }` (see `ApprovalOutput`).
   */
  approval?: ApprovalRequest;
  /**
   * The token also times out when no `heartbeat()` arrives for this long (a duration such as
   * `30s` or `5m`; the first period starts at creation). Its `timeout` still applies.
   */
  heartbeatTimeout?: string;
}

export interface CreatedToken {
  /** `waitpoint_…` */
  id: string;
  /** Callback URL: POSTing JSON to it completes the token, no key needed. */
  url: string;
  /** True when an `idempotencyKey` matched an existing token. */
  isCached: boolean;
  /** A JWT that may complete (and watch) only this token; safe to hand to a browser. */
  publicAccessToken: string;
  /** The signed approval page of a token created with `approval`; safe to send to the approver. */
  approvalUrl?: string;
}

export interface TokenListItem {
  id: string;
  url: string;
  status: TokenStatus;
  completedAt?: Date;
  timeoutAt?: Date;
  idempotencyKey?: string;
  idempotencyKeyExpiresAt?: Date;
  tags: string[];
  createdAt: Date;
  /** Heartbeat tokens: the heartbeat timeout they were created with. */
  heartbeatTimeoutMs?: number;
  /** Waiting heartbeat tokens: when the token times out unless a heartbeat comes first. */
  heartbeatDeadline?: Date;
}

export interface RetrievedToken<T = unknown> extends TokenListItem {
  /** The completion's data (decoded from JSON); absent while waiting or when completed without data. */
  output?: T;
  /** Set when the token timed out, was cancelled or was rejected. */
  error?: Error;
}

export interface ListTokensOptions {
  status?: TokenStatus | TokenStatus[];
  idempotencyKey?: string;
  tags?: string | string[];
  /** Created within this long before now, e.g. `1h`, `7d`. */
  period?: string;
  from?: Date | number;
  to?: Date | number;
  /** Page size, 1–100 (default 25). */
  limit?: number;
  after?: string;
  before?: string;
}

export interface CancelTokenOptions {
  reason?: string;
}

/** What a token is rejected with: its waiters get a WaitpointRejectedError with this message and code. */
export interface RejectionError {
  message: string;
  /** Default `WAITPOINT_REJECTED`. */
  code?: string;
}

export interface ExtendedToken {
  success: true;
  /** The new timeout. */
  timeoutAt: Date;
  /** When the token times out if nothing else happens (for a heartbeat token, possibly its heartbeat deadline). */
  deadline: Date;
}

export interface Heartbeat {
  success: true;
  /** Now + the heartbeat timeout. */
  heartbeatDeadline: Date;
  timeoutAt: Date;
  /** The earlier of the two. */
  deadline: Date;
}

export interface WaitOptions {
  /** Stops waiting when aborted; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Longest time to wait on this side (a duration such as `30s`, or milliseconds). When it
   * passes, the promise rejects with WaitLimitExceededError; the token itself is unaffected.
   */
  maxWait?: string | number;
  /** Called with each state the event stream delivers; the first is the state when waiting began. */
  onState?: (state: { id: string; status: TokenStatus }) => void;
}

/** The wire shape of a token (what retrieve and the event stream send). */
export interface WireToken {
  id: string;
  url: string;
  status: TokenStatus;
  completedAt?: string;
  timeoutAt?: string;
  idempotencyKey?: string;
  idempotencyKeyExpiresAt?: string;
  tags: string[];
  createdAt: string;
  output?: string;
  outputType?: string;
  outputIsError?: boolean;
  heartbeatTimeoutMs?: number;
  heartbeatDeadline?: string;
}
