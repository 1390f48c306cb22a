import { LRUCache } from 'lru-cache';
import { tracingEnabled } from '@waitpoints/platform';

/**
 * The trace context of each token's creation (the TokenCreated event's `metadata.traceparent`),
 * remembered by the ingest so that the firing of its timeout, a new trace, can link to it.
 * Kept in memory only (bounded): a timer fired by another instance, or after a restart, fires
 * without the link. Empty when tracing is off.
 */
const creations = new LRUCache<string, string>({ max: 100_000 });

export const creationTraces = {
  remember(tokenId: string, traceparent: string | undefined): void {
    if (traceparent !== undefined && tracingEnabled()) creations.set(tokenId, traceparent);
  },
  /** The creation's traceparent (kept until the token ends: a failed firing is tried again). */
  of(tokenId: string): string | undefined {
    return creations.get(tokenId);
  },
  /** The token ended (completed, cancelled, timed out, rejected): no firing will ask. */
  forget(tokenId: string): void {
    creations.delete(tokenId);
  },
};
