import type { ApprovalRequest } from './approval';
import type { CompletionChannel, RejectionError, TokenStatus, TokenView } from './token';
import type { TimeoutSpec } from './duration';
import type { RpcReply } from './rpc';
import type { EventEnvelope } from './events';
import type { OutboxPosition } from './outbox-position';
import { TokenQuerySubjects } from './subjects';

/** Who asked for a change; stored in every event's metadata. */
export interface Actor {
  type: 'api_key' | 'public_token' | 'callback' | 'scheduler' | 'operator' | 'dashboard' | 'approval_page';
  /** Environment of the key, or the service that acted. Never a secret. */
  id?: string;
}

export interface MessageMetadata {
  correlationId: string;
  actor: Actor;
  /**
   * W3C trace context of the command (when tracing is on): set by the sender, replaced by the
   * token-service with its handler's span, and stored on the events, so work done later on
   * their behalf (outbox publish, consumers) joins the command's trace.
   */
  traceparent?: string;
}

// ---- Commands (gateway/scheduler → token-service), imperative names ----

export interface CreateTokenCommand {
  environment: string;
  idempotencyKey?: string;
  idempotencyKeyTTLMs: number;
  timeout: TimeoutSpec;
  tags: string[];
  /** The SDK's `x-trigger-request-idempotency-key`: a retried request returns the first answer. */
  requestIdempotencyKey?: string;
  /** The token also times out when no heartbeat arrives for this long (ms). */
  heartbeatTimeoutMs?: number;
  metadata: MessageMetadata;
  /** Texts of the token's approval page (a Waitpoints extension; the official SDK never sends it). */
  approval?: ApprovalRequest;
}

export interface CreateTokenResult {
  token: TokenView;
  isCached: boolean;
}

export interface CompleteTokenCommand {
  /** Absent for callback completions: the URL's HMAC, not an API key, authorizes them. */
  environment?: string;
  tokenId: string;
  /** Serialized output; absent when the caller completed without data. */
  output?: string;
  /** Instead of `output` when it is too large for one NATS message: an object in the uploads bucket. */
  outputRef?: string;
  outputType: string;
  channel: CompletionChannel;
  metadata: MessageMetadata;
}

export interface CancelTokenCommand {
  environment: string;
  tokenId: string;
  reason?: string;
  metadata: MessageMetadata;
}

/** Ends a waiting token with an error (TokenRejected); a finished token is left as it is. */
export interface RejectTokenCommand {
  environment: string;
  tokenId: string;
  error: RejectionError;
  channel: Exclude<CompletionChannel, 'callback'>;
  metadata: MessageMetadata;
}

/** Moves a waiting token's timeout (TokenDeadlineExtended); a finished token is refused (409). */
export interface ExtendTokenCommand {
  environment: string;
  tokenId: string;
  timeout: TimeoutSpec;
  metadata: MessageMetadata;
}

/** Restarts a waiting heartbeat token's heartbeat clock. Not an event: one UPDATE of the token's row. */
export interface HeartbeatTokenCommand {
  environment: string;
  tokenId: string;
  metadata: MessageMetadata;
}

export interface HeartbeatTokenResult {
  tokenId: string;
  status: 'WAITING';
  /** The new heartbeat deadline: now + the token's heartbeat timeout. */
  heartbeatDeadline: string;
  timeoutAt: string;
  /** When the token times out if nothing else happens: the earlier of the two. */
  deadline: string;
}

export interface TimeoutTokenCommand {
  environment?: string;
  tokenId: string;
  /** Time out now even if the deadline is later (an operator's "time out now"). */
  force?: boolean;
  metadata: MessageMetadata;
}

/**
 * Several timeouts at once (the scheduler's drain path). Each one is decided on its own,
 * exactly as a single TimeoutTokenCommand would be; batching only shares the transaction.
 */
export interface TimeoutTokensCommand {
  timeouts: { tokenId: string; environment?: string }[];
  metadata: MessageMetadata;
}

/** One reply per requested timeout, in request order (a failure of one does not fail the rest). */
export interface TimeoutTokensResult {
  results: RpcReply<TokenTransitionResult>[];
}

/** Reply to complete/cancel/reject/extend/timeout: the token's status after the command, and whether it changed. */
export interface TokenTransitionResult {
  tokenId: string;
  status: TokenStatus;
  changed: boolean;
  /** While WAITING: the token's timeout (after an extension, the new one). */
  timeoutAt?: string;
  /**
   * While WAITING, when known: when the token times out if nothing else happens (the earlier of
   * its timeout and its heartbeat deadline). A timeout that was not due answers it, so the
   * scheduler can re-arm its timer there.
   */
  deadline?: string;
}

// ---- Several requests in one message (TokenRequestBatchSubject) ----

/**
 * Queries that may travel in a batch: their replies are small in practice (one token, one
 * page), and the token-service keeps the whole batch reply under BATCH_REPLY_BUDGET_BYTES by
 * answering `sendAlone` for a query whose reply would not fit.
 */
export const BATCHABLE_QUERY_SUBJECTS: readonly string[] = [TokenQuerySubjects.get, TokenQuerySubjects.list, TokenQuerySubjects.approval];

/** Most bytes of JSON a batch reply carries: well under NATS' default 1 MiB max_payload. */
export const BATCH_REPLY_BUDGET_BYTES = 512 * 1024;

export interface TokenRequestBatch {
  /**
   * Each `subject` is a command of TokenCommandSubjects but timeout-batch, or one of
   * BATCHABLE_QUERY_SUBJECTS (relative, no prefix).
   */
  requests: { subject: string; payload: unknown }[];
}

/**
 * In a batch reply, in place of a query's answer: it would have taken the reply past
 * BATCH_REPLY_BUDGET_BYTES (or this subject cannot be batched here). The query was only read,
 * never applied: the sender sends it again on its own subject.
 */
export interface SendAlone {
  ok: false;
  sendAlone: true;
}

export const SEND_ALONE: SendAlone = { ok: false, sendAlone: true };

/**
 * One reply per request, in request order, each exactly what its own subject would answer,
 * or SEND_ALONE for a query.
 */
export interface TokenRequestBatchReply {
  replies: (RpcReply<unknown> | SendAlone)[];
}

// ---- Queries (gateway → token-service) ----

export interface GetTokenQuery {
  environment: string;
  tokenId: string;
}

export interface OutputChunkQuery {
  environment: string;
  tokenId: string;
  /** 0-based offset and length, in characters (Unicode code points). */
  offset: number;
  length: number;
}

export interface OutputChunkResult {
  chunk: string;
}

export interface ListTokensQuery {
  environment: string;
  pageSize: number;
  after?: string;
  before?: string;
  statuses?: TokenStatus[];
  idempotencyKey?: string;
  tags?: string[];
  /** ISO dates, inclusive. */
  createdFrom?: string;
  createdTo?: string;
}

export interface ListTokensResult {
  tokens: TokenView[];
  next?: string;
  previous?: string;
}

export interface TokenHistoryQuery {
  environment: string;
  tokenId: string;
}

/** A stored event as the timeline shows it; a large output is cut to a preview. */
export type TokenHistoryEvent = EventEnvelope & {
  /** Set when `data.output` was cut: the full output's length in characters (read it with qry.token.get). */
  outputTruncatedFromChars?: number;
};

export interface TokenHistoryResult {
  tokenId: string;
  /** Oldest first. */
  events: TokenHistoryEvent[];
}

export interface TokenStatsQuery {
  environment: string;
}

export interface TokenStatsResult {
  /** The token-service's time the counts were taken at (ISO). */
  at: string;
  /** Every status, zero included. Exact, except the statuses listed in `estimated`. */
  byStatus: Record<TokenStatus, number>;
  /**
   * Statuses with more tokens than the token-service counts exactly (see token-insights.ts):
   * their `byStatus` figure is PostgreSQL's estimate from its table statistics. Absent when
   * every count is exact.
   */
  estimated?: TokenStatus[];
  /** Creation time of the oldest WAITING token (ISO); absent when none waits. */
  oldestWaitingCreatedAt?: string;
  /** Over the hour before `at`. */
  lastHour: { created: number; completed: number; timedOut: number; cancelled: number; rejected: number };
}

// ---- Catching up from the event store (TokenQuerySubjects.storedEvents) ----

/** Most events one stored-events reply holds (a reply is also cut short before it reaches STORED_EVENTS_PAGE_BYTES). */
export const STORED_EVENTS_PAGE_MAX = 1000;
/** Bytes of JSON one stored-events reply stays under, so it fits NATS's default 1 MiB max_payload. */
export const STORED_EVENTS_PAGE_BYTES = 512 * 1024;

export interface StoredEventsQuery {
  /** Events after this position (BEFORE_FIRST_EVENT: from the first stored one). */
  after: OutboxPosition;
  /** At most this many (1 to STORED_EVENTS_PAGE_MAX; default STORED_EVENTS_PAGE_MAX). */
  limit?: number;
}

/** One stored event exactly as its JetStream message carries it, with that message's position header. */
export interface StoredEvent {
  position: OutboxPosition;
  event: EventEnvelope;
}

export interface StoredEventsPage {
  /** In the order the outbox publishes them; only events it has already published to JetStream. */
  events: StoredEvent[];
  /** True when the page was cut by its limit or size: ask again after the last position. */
  more: boolean;
}
