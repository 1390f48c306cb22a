import { ErrorCode, rpcError, rpcOk } from '@waitpoints/contracts';
import { MAX_TIMER_DELAY_MS, retryDelayMs, timerDelay, verdictOn } from './timer-rules';

const DAY_MS = 86_400_000;

describe('arming a timer', () => {
  it('waits exactly until the deadline', () => {
    expect(timerDelay(1_000_250, 1_000_000)).toBe(250);
  });

  it('fires at once for a deadline already passed', () => {
    expect(timerDelay(1_000_000, 1_000_500)).toBe(0);
  });

  it('never asks setTimeout for more than it can hold (2^31-1 ms, about 24.8 days)', () => {
    expect(MAX_TIMER_DELAY_MS).toBe(2_147_483_647);
    expect(timerDelay(30 * DAY_MS, 0)).toBe(MAX_TIMER_DELAY_MS);
  });
});

describe("the token-service's answer to a timeout", () => {
  const result = (status: 'WAITING' | 'TIMED_OUT' | 'COMPLETED', changed: boolean) => rpcOk({ tokenId: 't', status, changed });

  it('timed the token out: done', () => {
    expect(verdictOn(result('TIMED_OUT', true))).toEqual({ kind: 'done', outcome: 'timed_out' });
  });

  it('found the token already finished (a completion won): done, nothing changed', () => {
    expect(verdictOn(result('COMPLETED', false))).toEqual({ kind: 'done', outcome: 'already_finished' });
    expect(verdictOn(result('TIMED_OUT', false))).toEqual({ kind: 'done', outcome: 'already_finished' });
  });

  it('found the token waiting and not yet due by its own clock: fire again shortly', () => {
    expect(verdictOn(result('WAITING', false))).toEqual({ kind: 'not_due_yet' });
  });

  it('found the token waiting with a later deadline than the one fired at (extended, heartbeating): re-arm there', () => {
    const fired = Date.parse('2026-01-01T10:00:00.000Z');
    const waiting = (deadline: string) => rpcOk({ tokenId: 't', status: 'WAITING' as const, changed: false, deadline });
    expect(verdictOn(waiting('2026-01-01T10:05:00.000Z'), fired)).toEqual({
      kind: 'moved',
      dueAtMs: Date.parse('2026-01-01T10:05:00.000Z'),
    });
    // The same deadline: only the token-service's clock is behind.
    expect(verdictOn(waiting('2026-01-01T10:00:00.000Z'), fired)).toEqual({ kind: 'not_due_yet' });
  });

  it('does not know the token: done, or the timer would fire forever', () => {
    expect(verdictOn(rpcError({ code: ErrorCode.TokenNotFound, message: 'gone' }))).toEqual({
      kind: 'done',
      outcome: 'token_not_found',
    });
  });

  it('failed, or said nothing about this token: retry after a back-off', () => {
    expect(verdictOn(rpcError({ code: ErrorCode.Internal, message: 'boom' })).kind).toBe('failed');
    expect(verdictOn(undefined).kind).toBe('failed');
  });

  it('backs off from 250 ms, doubling, up to 8 s', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(retryDelayMs)).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000]);
  });
});
