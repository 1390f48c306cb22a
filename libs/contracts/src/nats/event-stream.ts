import { DiscardPolicy, nanos, RetentionPolicy, StorageType, StreamConfig } from 'nats';
import { eventStreamName, eventSubjects } from '../subjects';

/**
 * What the event stream keeps. PostgreSQL's event store is the source of truth, so the stream
 * is bounded: a consumer that was away longer than it keeps messages catches up from the event
 * store (nats/event-store-catch-up.ts).
 */
export interface EventStreamLimits {
  replicas: number;
  /** JetStream drops a repeated Nats-Msg-Id inside this window (the outbox relay's retry horizon). */
  duplicateWindowMs: number;
  /** Messages older than this are removed (0: kept forever). */
  maxAgeMs: number;
  /** The oldest messages are removed beyond this many bytes (undefined: no limit). */
  maxBytes?: number;
}

/**
 * The one definition of the event stream: the token-service creates it with this, and updates
 * an existing stream to it at every start (so a changed limit takes effect on the next start).
 */
export function eventStreamConfig(subjectPrefix: string, limits: EventStreamLimits): Partial<StreamConfig> & { name: string } {
  return {
    name: eventStreamName(subjectPrefix),
    subjects: [eventSubjects(subjectPrefix).all],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    // At a limit the oldest messages go: a new event is never refused.
    discard: DiscardPolicy.Old,
    num_replicas: limits.replicas,
    duplicate_window: nanos(limits.duplicateWindowMs),
    max_age: nanos(limits.maxAgeMs),
    max_bytes: limits.maxBytes ?? -1,
  };
}

/** The limits as the token-service's start-up log line states them. */
export function describeEventStreamLimits(limits: EventStreamLimits): string {
  const age = limits.maxAgeMs > 0 ? `messages kept ${formatMs(limits.maxAgeMs)}` : 'messages kept forever (JETSTREAM_MAX_AGE=off)';
  const bytes = limits.maxBytes !== undefined ? `, at most ${limits.maxBytes} bytes` : '';
  return `${age}${bytes}, duplicate window ${formatMs(limits.duplicateWindowMs)}, ${limits.replicas} replica(s)`;
}

function formatMs(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
