import type { ApprovalRequest } from './approval';
import type { CompletionChannel, RejectionError } from './token';
import type { MessageMetadata } from './messages';
import type { TokenEventKind } from './subjects';

/**
 * Domain events of a waitpoint token, past tense. A token's stream is `TokenCreated`, any
 * number of `TokenDeadlineExtended` while it waits, and at most one terminal event
 * (`TokenCompleted`, `TokenTimedOut`, `TokenCancelled`, `TokenRejected`). Heartbeats are not
 * events (see the token-service's TokenHeartbeats).
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
    /** The token also times out when no heartbeat arrived for this long (the first clock starts at creation). */
    heartbeatTimeoutMs?: number;
  };
}

/** The token's timeout moved (later or earlier) while it waited. */
export interface TokenDeadlineExtended {
  type: 'TokenDeadlineExtended';
  data: {
    tokenId: string;
    environment: string;
    /** The new timeout. */
    timeoutAt: string;
    previousTimeoutAt: string;
    extendedAt: string;
    /**
     * When the token times out if nothing else happens, as known when it was extended: the
     * earlier of `timeoutAt` and the heartbeat deadline of a heartbeat token (a later heartbeat
     * only moves that deadline later). What the scheduler arms its timer at.
     */
    deadline: string;
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
    /**
     * Set when the token timed out because no heartbeat came: the heartbeat deadline it was
     * decided on. The append stores the event only if no heartbeat moved that deadline meanwhile.
     */
    heartbeatDeadline?: string;
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

/** A caller ended the waiting token with an error (a Waitpoints extension). */
export interface TokenRejected {
  type: 'TokenRejected';
  data: {
    tokenId: string;
    environment: string;
    rejectedAt: string;
    /** The error as the caller gave it. */
    error: RejectionError;
    /** JSON `{ code, message }`: what a waiter receives as its error (code defaults to WAITPOINT_REJECTED). */
    output: string;
    channel: Exclude<CompletionChannel, 'callback'>;
  };
}

export type TokenEvent = TokenCreated | TokenDeadlineExtended | TokenCompleted | TokenTimedOut | TokenCancelled | TokenRejected;
export type TokenEventType = TokenEvent['type'];

export const EVENT_KIND: Record<TokenEventType, TokenEventKind> = {
  TokenCreated: 'created',
  TokenCompleted: 'completed',
  TokenTimedOut: 'timed_out',
  TokenCancelled: 'cancelled',
  TokenRejected: 'rejected',
  TokenDeadlineExtended: 'deadline_extended',
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
/** The token a stream id names (the inverse of tokenStreamId). */
export const tokenIdOfStream = (streamId: string) => streamId.slice('token-'.length);
