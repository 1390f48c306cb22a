import { TokenStatus, TokenView, toFriendlyTokenId } from '@waitpoints/contracts';

/**
 * TokenView → Trigger.dev's wire shapes. Absent fields are omitted (the SDK's zod schemas
 * reject null). The official SDK knows no CANCELLED or REJECTED status, so for SDK clients a
 * cancelled token reads as TIMED_OUT and a rejected one as COMPLETED, each with its error as
 * output and `outputIsError: true`: their waiters (and `wait.retrieveToken`) end with an error
 * carrying our message instead of failing schema validation. Other clients see the status itself.
 */
export interface WaitpointTokenItem {
  id: string;
  url: string;
  status: TokenStatus;
  completedAt?: string;
  timeoutAt?: string;
  completedAfter?: string;
  idempotencyKey?: string;
  idempotencyKeyExpiresAt?: string;
  tags: string[];
  createdAt: string;
  /** Waitpoints extension, heartbeat tokens only: the heartbeat timeout they were created with. */
  heartbeatTimeoutMs?: number;
  /** Waitpoints extension, waiting heartbeat tokens only: when they time out unless a heartbeat comes first. */
  heartbeatDeadline?: string;
}

/** How the official SDK is shown the statuses it does not know. */
const TRIGGER_SDK_STATUS: Partial<Record<TokenStatus, TokenStatus>> = { CANCELLED: 'TIMED_OUT', REJECTED: 'COMPLETED' };

export interface WaitpointRetrievedToken extends WaitpointTokenItem {
  output?: string;
  outputType?: string;
  outputIsError?: boolean;
}

export interface PresentOptions {
  url: string;
  /** The caller is Trigger.dev's SDK (it sends `x-trigger-api-version`). */
  triggerSdk: boolean;
}

export function toListItem(view: TokenView, options: PresentOptions): WaitpointTokenItem {
  const item: WaitpointTokenItem = {
    id: toFriendlyTokenId(view.id),
    url: options.url,
    status: (options.triggerSdk && TRIGGER_SDK_STATUS[view.status]) || view.status,
    timeoutAt: view.timeoutAt,
    completedAfter: view.timeoutAt,
    tags: [...view.tags].sort((a, b) => a.localeCompare(b)),
    createdAt: view.createdAt,
  };
  if (view.completedAt !== undefined) item.completedAt = view.completedAt;
  if (view.idempotencyKey !== undefined) item.idempotencyKey = view.idempotencyKey;
  if (view.idempotencyKeyExpiresAt !== undefined) item.idempotencyKeyExpiresAt = view.idempotencyKeyExpiresAt;
  if (view.heartbeatTimeoutMs !== undefined) item.heartbeatTimeoutMs = view.heartbeatTimeoutMs;
  if (view.heartbeatDeadline !== undefined) item.heartbeatDeadline = view.heartbeatDeadline;
  return item;
}

/** The statuses to look for when a client filters by `status`: the SDK's also cover those shown to it as that status. */
export function statusesShownAs(statuses: TokenStatus[], triggerSdk: boolean): TokenStatus[] {
  if (!triggerSdk) return statuses;
  const hidden = (Object.keys(TRIGGER_SDK_STATUS) as TokenStatus[]).filter((status) => statuses.includes(TRIGGER_SDK_STATUS[status]!));
  return [...new Set([...statuses, ...hidden])];
}

export function toRetrievedToken(view: TokenView, options: PresentOptions): WaitpointRetrievedToken {
  const token: WaitpointRetrievedToken = { ...toListItem(view, options), tags: view.tags };
  if (view.status !== 'WAITING') {
    if (view.output !== undefined) token.output = view.output;
    if (view.outputType !== undefined) token.outputType = view.outputType;
    token.outputIsError = view.outputIsError;
  }
  return token;
}
