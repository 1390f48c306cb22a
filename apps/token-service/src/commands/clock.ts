import { monotonicFactory } from 'ulid';

/** Injected so tests control time; the decider never reads a clock itself. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

export interface TokenIdGenerator {
  next(): string;
}

/** Lower-case monotonic ULIDs: unique, and sortable by creation time (the list's order). */
export function ulidTokenIds(): TokenIdGenerator {
  const ulid = monotonicFactory();
  return { next: () => ulid().toLowerCase() };
}

export const CLOCK = Symbol('Clock');
export const TOKEN_IDS = Symbol('TokenIdGenerator');
