/**
 * NATS subjects. Every subject starts with a deployment prefix (`NATS_SUBJECT_PREFIX`,
 * default `waitpoints`) so that several deployments, or test runs, can share one NATS
 * server without seeing each other's traffic.
 *
 * Request/reply (core NATS, queue group `token-service`):
 *   <prefix>.cmd.token.create | complete | cancel | reject | extend | heartbeat | timeout | timeout-batch
 *   <prefix>.qry.token.get | list | output-chunk | history | stats | approval | stored-events
 *   <prefix>.rpc.token.batch   several commands in one message (see TokenRequestBatch)
 *
 * Request/reply, queue group `scheduler`:
 *   <prefix>.qry.scheduler.metrics
 *
 * Domain events (JetStream stream `<PREFIX>_EVENTS`, one message per stored event):
 *   <prefix>.evt.token.<kind>.<environment>.<tokenId>
 *   kind ∈ created | deadline_extended | completed | timed_out | cancelled | rejected
 *   (heartbeats are not events: nothing is published for them)
 *
 *   every completion, any environment:  <prefix>.evt.token.completed.>
 *   every event of one token:           <prefix>.evt.token.*.*.<tokenId>
 *   every event of one environment:     <prefix>.evt.token.*.<environment>.*
 */
export const DEFAULT_SUBJECT_PREFIX = 'waitpoints';

/** Subjects relative to the prefix; the NATS transport adds the prefix on both sides. */
export const TokenCommandSubjects = {
  create: 'cmd.token.create',
  complete: 'cmd.token.complete',
  cancel: 'cmd.token.cancel',
  reject: 'cmd.token.reject',
  extend: 'cmd.token.extend',
  heartbeat: 'cmd.token.heartbeat',
  timeout: 'cmd.token.timeout',
  /** Many timeouts in one request: the scheduler's drain path (one transaction per batch). */
  timeoutBatch: 'cmd.token.timeout-batch',
} as const;

export const TokenQuerySubjects = {
  get: 'qry.token.get',
  list: 'qry.token.list',
  /** A slice of a large output, for outputs too big for one reply (see TokenView.outputChars). */
  outputChunk: 'qry.token.output-chunk',
  /** Every stored event of one token, oldest first (the dashboard's timeline). */
  history: 'qry.token.history',
  /** Counts over the read tables for one environment (the dashboard's overview). */
  stats: 'qry.token.stats',
  /** One token by id alone, for its approval page (the gateway verified the page's signed URL). */
  approval: 'qry.token.approval',
  /**
   * Stored events after an outbox position, in the order the outbox publishes them and as the
   * JetStream messages carry them: how a consumer that was away longer than the stream keeps
   * messages catches up (see nats/event-store-catch-up.ts).
   */
  storedEvents: 'qry.token.stored-events',
} as const;

export const SchedulerQuerySubjects = {
  /** One scheduler instance's metrics in Prometheus text format (RpcReply<string>). */
  metrics: 'qry.scheduler.metrics',
} as const;

/**
 * Many commands in one NATS message, answered by one reply: a gateway under load
 * sends what arrived in the same event-loop turn together, which saves a NATS round trip
 * (and its syscalls in three processes) per request.
 */
export const TokenRequestBatchSubject = 'rpc.token.batch';

export type TokenEventKind = 'created' | 'deadline_extended' | 'completed' | 'timed_out' | 'cancelled' | 'rejected';

const SUBJECT_TOKEN = /^[A-Za-z0-9_-]+$/;

/** True when the value can stand as one token of a NATS subject (no dots, spaces or wildcards). */
export function isSubjectToken(value: string): boolean {
  return SUBJECT_TOKEN.test(value);
}

export function assertSubjectPrefix(prefix: string): string {
  if (!prefix.split('.').every(isSubjectToken)) {
    throw new Error(`NATS subject prefix "${prefix}" is invalid: use letters, digits, "_" or "-", with "." between parts`);
  }
  return prefix;
}

export function eventSubjects(prefix: string = DEFAULT_SUBJECT_PREFIX) {
  const base = `${prefix}.evt.token`;
  return {
    /** Filter for every token event of this deployment (the JetStream stream's subject). */
    all: `${prefix}.evt.>`,
    of: (kind: TokenEventKind, environment: string, tokenId: string) => `${base}.${kind}.${environment}.${tokenId}`,
    allOfKind: (kind: TokenEventKind) => `${base}.${kind}.>`,
    forToken: (tokenId: string) => `${base}.*.*.${tokenId}`,
    forEnvironment: (environment: string) => `${base}.*.${environment}.*`,
  };
}

/**
 * The live copy of token events: the token-service publishes each event on core NATS right
 * after its commit, for the gateways' feeds to wake waiters at once. At most once, and outside
 * the JetStream stream (a different subject root): the JetStream copy that the outbox relay
 * publishes stays the durable, ordered one, and a feed drops it when the live copy came first.
 *
 *   <prefix>.live.token.<kind>.<environment>.<tokenId>
 *   <prefix>.live.commit   (a commit with nothing announced: creations, large outputs; wakes the outbox relay)
 */
export function liveEventSubjects(prefix: string = DEFAULT_SUBJECT_PREFIX) {
  const base = `${prefix}.live.token`;
  return {
    /** Every live token event (the gateways' feeds). */
    all: `${base}.>`,
    of: (kind: TokenEventKind, environment: string, tokenId: string) => `${base}.${kind}.${environment}.${tokenId}`,
    /** A commit by an instance that does not lead the outbox relay: the leader's wake-up. */
    commit: `${prefix}.live.commit`,
  };
}

/** JetStream stream holding every token event of a deployment. */
export function eventStreamName(prefix: string = DEFAULT_SUBJECT_PREFIX): string {
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase()}_EVENTS`;
}

/** Header carried on every published event; JetStream deduplicates on it. */
export const NATS_MSG_ID_HEADER = 'Nats-Msg-Id';
export const EVENT_TYPE_HEADER = 'Waitpoints-Event-Type';

/**
 * Correlation id of the request that caused a message: set on command and query requests
 * (the gateway copies the HTTP `x-request-id`) and on every published event (the event's
 * `metadata.correlationId`). The token-service stores it in the metadata of the events it appends.
 */
export const CORRELATION_ID_HEADER = 'Waitpoints-Correlation-Id';
