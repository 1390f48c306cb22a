import type { ApprovalRequest } from './approval';
import type { CompletionChannel } from './token';
import type { MessageMetadata } from './messages';
import type { TokenEventKind } from './subjects';

/**
 * Domain events of a waitpoint token, past tense. A token's stream is
 * `TokenCreated` followed by at most one terminal event.
 * `schemaVersion` in the envelope versions each event's data.
 */
export interface TokenCreated {
  type: 'TokenCreated';
  data: {
    tokenId: string;
    environment: string;
    idempotencyKey?: string;
    idempotencyKeyExpiresAt?: string;
    timeoutAt: string;
    tags: string[];
    createdAt: string;
    requestIdempotencyKey?: string;
    /** The approval page's texts, when the token has one (schema version 1 events without it have none). */
    approval?: ApprovalRequest;
  };
}

export interface TokenCompleted {
  type: 'TokenCompleted';
  data: {
    tokenId: string;
    environment: string;
    output?: string;
    /**
     * Only on JetStream: an output over 256 KiB is left out of the message and stored as this
     * object in the `<PREFIX>_OUTPUTS` object store (see nats/output-store.ts).
     */
    outputRef?: string;
    outputType: string;
    channel: CompletionChannel;
    completedAt: string;
  };
}

export interface TokenTimedOut {
  type: 'TokenTimedOut';
  data: {
    tokenId: string;
    environment: string;
    timeoutAt: string;
    timedOutAt: string;
    /** JSON `{ code, message }`: what a waiter receives as its error. */
    output: string;
    forced: boolean;
  };
}

export interface TokenCancelled {
  type: 'TokenCancelled';
  data: {
    tokenId: string;
    environment: string;
    cancelledAt: string;
    reason?: string;
    output: string;
  };
}

export type TokenEvent = TokenCreated | TokenCompleted | TokenTimedOut | TokenCancelled;
export type TokenEventType = TokenEvent['type'];

export const EVENT_KIND: Record<TokenEventType, TokenEventKind> = {
  TokenCreated: 'created',
  TokenCompleted: 'completed',
  TokenTimedOut: 'timed_out',
  TokenCancelled: 'cancelled',
};

export const CURRENT_SCHEMA_VERSION = 1;

/**
 * A stored event as the event store returns it and as it is published on JetStream
 * (the message body is this object as JSON; the `Nats-Msg-Id` header is `eventId`).
 * Positions are strings: they are Postgres bigints and JSON has no safe 64-bit integer.
 */
export interface EventEnvelope<E extends TokenEvent = TokenEvent> {
  eventId: string;
  type: E['type'];
  schemaVersion: number;
  streamId: string;
  streamVersion: number;
  globalPosition: string;
  data: E['data'];
  metadata: MessageMetadata;
  recordedAt: string;
}

export const tokenStreamId = (tokenId: string) => `token-${tokenId}`;
