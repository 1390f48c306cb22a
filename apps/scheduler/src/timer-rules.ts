import { ErrorCode, RpcReply, TokenTransitionResult } from '@waitpoints/contracts';

/**
 * The scheduler's invariants, in one place.
 *
 * 1. PostgreSQL (`scheduler_timers`) is the source of truth; memory holds only timers this
 *    instance has leased, all due within the look-ahead window.
 * 2. A timer is fired only by the instance holding its lease; it is deleted only after the
 *    token-service has answered for it (or the token's terminal event was ingested).
 * 3. The token-service's decider alone decides whether a token times out. The scheduler may
 *    fire late, early or twice (after a crash): it is at-least-once, the decider makes it
 *    first-writer-wins. A deadline that moved (an extension, a heartbeat) makes a timer fired
 *    at the old one "not due": the answer carries the new deadline, and the timer is re-armed
 *    there instead of being retried.
 * 4. What is due is decided by the database clock (see DatabaseClock), never by a timer
 *    longer than Node can hold.
 */

/** Node's setTimeout holds at most 2^31-1 ms (~24.8 days); longer delays fire after 1 ms. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The delay to arm for a deadline: never negative, never past what setTimeout can hold. */
export function timerDelay(fireAtMs: number, nowMs: number): number {
  return Math.min(Math.max(0, Math.ceil(fireAtMs - nowMs)), MAX_TIMER_DELAY_MS);
}

/** How a fired timeout ended, as counted in `timers_fired_total{outcome}`. */
export type FireOutcome = 'timed_out' | 'already_finished' | 'token_not_found';

export type Verdict =
  /** The token-service has decided: forget the timer for good. */
  | { kind: 'done'; outcome: FireOutcome }
  /** The token is WAITING and its deadline has not come by the token-service's clock: fire again shortly. */
  | { kind: 'not_due_yet' }
  /** The token is WAITING with a later deadline than the one fired at: re-arm the timer there. */
  | { kind: 'moved'; dueAtMs: number }
  /** Nothing was decided (an error): fire again after a back-off. */
  | { kind: 'failed'; reason: string };

/** What one token's reply means for its timer, fired at `firedDueAtMs`. */
export function verdictOn(reply: RpcReply<TokenTransitionResult> | undefined, firedDueAtMs = Number.POSITIVE_INFINITY): Verdict {
  if (reply === undefined) return { kind: 'failed', reason: 'no reply for this token' };
  if (!reply.ok) {
    // A token that does not exist will never time out: keeping its timer would fire forever.
    if (reply.error.code === ErrorCode.TokenNotFound) return { kind: 'done', outcome: 'token_not_found' };
    return { kind: 'failed', reason: `${reply.error.code}: ${reply.error.message}` };
  }
  if (reply.value.changed) return { kind: 'done', outcome: 'timed_out' };
  if (reply.value.status !== 'WAITING') return { kind: 'done', outcome: 'already_finished' };
  const deadlineMs = reply.value.deadline === undefined ? Number.NaN : Date.parse(reply.value.deadline);
  if (deadlineMs > firedDueAtMs) return { kind: 'moved', dueAtMs: deadlineMs };
  return { kind: 'not_due_yet' };
}

/** Back-off after a failed fire: 250 ms doubling to 8 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(250 * 2 ** Math.max(0, attempt - 1), 8_000);
}
