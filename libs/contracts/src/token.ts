import type { ApprovalRequest } from './approval';
/**
 * Public status of a token. Exactly one terminal status is ever reached. CANCELLED and
 * REJECTED are Waitpoints extensions (see the gateway's presenter for how the official
 * Trigger.dev SDK is shown them).
 */
export const TOKEN_STATUSES = ['WAITING', 'COMPLETED', 'TIMED_OUT', 'CANCELLED', 'REJECTED'] as const;
export type TokenStatus = (typeof TOKEN_STATUSES)[number];
export type TerminalTokenStatus = Exclude<TokenStatus, 'WAITING'>;

export function isTokenStatus(value: string): value is TokenStatus {
  return (TOKEN_STATUSES as readonly string[]).includes(value);
}

/** How a completion reached us. Stored on the event so ops can tell who finished a token. */
export type CompletionChannel = 'api' | 'public_token' | 'callback' | 'dashboard' | 'approval_page';

export const TOKEN_ID_PREFIX = 'waitpoint_';

/** Internal ids are lower-case ULIDs: 26 chars, time-ordered, so id order is creation order. */
const INTERNAL_ID = /^[0-9a-hjkmnp-tv-z]{26}$/;

export function isInternalTokenId(value: string): boolean {
  return INTERNAL_ID.test(value);
}

/** `waitpoint_<id>` → `<id>`; any other string is returned unchanged (as Trigger.dev does). */
export function toInternalTokenId(idOrFriendlyId: string): string {
  return idOrFriendlyId.startsWith(TOKEN_ID_PREFIX) ? idOrFriendlyId.slice(TOKEN_ID_PREFIX.length) : idOrFriendlyId;
}

export function toFriendlyTokenId(internalId: string): string {
  return `${TOKEN_ID_PREFIX}${internalId}`;
}

export const MAX_TAGS = 10;
export const MAX_TAG_LENGTH = 128;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 2048;
/**
 * Also a bound in UTF-8 bytes: the key is indexed, and a btree row holds at most about 2.7 KB,
 * so 2048 characters outside ASCII (up to 8 KB) failed in PostgreSQL instead of being refused.
 */
export const MAX_IDEMPOTENCY_KEY_BYTES = 2048;
export const DEFAULT_TIMEOUT = '10m';
export const DEFAULT_IDEMPOTENCY_KEY_TTL = '1h';

/** Output types understood by the Trigger.dev SDK's packet parser. */
export const JSON_OUTPUT_TYPE = 'application/json';

/** Error codes put in the output of tokens that end without a completion. */
export const TIMEOUT_ERROR_CODE = 'TRIGGER_WAITPOINT_TIMEOUT';
export const CANCELLED_ERROR_CODE = 'WAITPOINT_CANCELLED';
/** The code of a rejection whose caller gave none. */
export const REJECTED_ERROR_CODE = 'WAITPOINT_REJECTED';

/** A rejection's error, as the caller gave it: at most this many characters of message, and of code. */
export const MAX_REJECTION_MESSAGE_LENGTH = 4096;
export const MAX_REJECTION_CODE_LENGTH = 128;

/** The error a caller rejects a token with. */
export interface RejectionError {
  message: string;
  code?: string;
}

/**
 * The state of a token as the read model holds it; what queries return over NATS.
 * Dates are ISO-8601 strings; absent values are left out, never null.
 */
export interface TokenView {
  id: string;
  environment: string;
  status: TokenStatus;
  idempotencyKey?: string;
  idempotencyKeyExpiresAt?: string;
  /** The token's timeout: when it times out at the latest (moved by an extension). */
  timeoutAt: string;
  /** Set when the token was created with a heartbeat timeout: it also times out when no heartbeat arrives for this long. */
  heartbeatTimeoutMs?: number;
  /** When a WAITING heartbeat token times out unless a heartbeat arrives first (not an event: heartbeats move it). */
  heartbeatDeadline?: string;
  completedAt?: string;
  /** Serialized output (JSON text when outputType is application/json). Only on retrieve. */
  output?: string;
  /**
   * Set instead of `output` in query replies when the output is too large for one NATS
   * message: its length in characters, to be read with `qry.token.output-chunk`.
   */
  outputChars?: number;
  outputType?: string;
  outputIsError: boolean;
  completedBy?: CompletionChannel | 'scheduler' | 'operator';
  tags: string[];
  createdAt: string;
  version: number;
  /** Set when the token was created with an approval page (see approval.ts). */
  approval?: ApprovalRequest;
}
