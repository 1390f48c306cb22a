import { TokenStatus, TokenView, toFriendlyTokenId } from '@waitpoints/contracts';

/**
 * TokenView → Trigger.dev's wire shapes. Absent fields are omitted (the SDK's zod schemas
 * reject null). The official SDK knows no CANCELLED status, so for SDK clients a cancelled
 * token reads as TIMED_OUT with its cancellation error as output: their waiters still end
 * with an error carrying our message instead of failing schema validation.
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
}

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
    status: view.status === 'CANCELLED' && options.triggerSdk ? 'TIMED_OUT' : view.status,
    timeoutAt: view.timeoutAt,
    completedAfter: view.timeoutAt,
    tags: [...view.tags].sort((a, b) => a.localeCompare(b)),
    createdAt: view.createdAt,
  };
  if (view.completedAt !== undefined) item.completedAt = view.completedAt;
  if (view.idempotencyKey !== undefined) item.idempotencyKey = view.idempotencyKey;
  if (view.idempotencyKeyExpiresAt !== undefined) item.idempotencyKeyExpiresAt = view.idempotencyKeyExpiresAt;
  return item;
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
