import { Logger } from '@nestjs/common';
import { RpcReply, TokenTransitionResult, rpcOk } from '@waitpoints/contracts';
import { SchedulerMetrics } from '../metrics';
import { DeadlineGate } from './deadline-gate';
import type { TimeoutRequest, TimeoutSender } from './timeout-sender';
import type { FiredTimerWrites } from './deadline-gate';

const START = Date.parse('2026-01-01T00:00:00.000Z');
const LEASE_MS = 60_000;

type Answer = (request: TimeoutRequest) => RpcReply<TokenTransitionResult>;
const timesOut: Answer = ({ tokenId }) => rpcOk({ tokenId, status: 'TIMED_OUT', changed: true });

class FakeTokenService implements TimeoutSender {
  readonly batches: string[][] = [];
  answer: Answer = timesOut;
  failNext = 0;

  async send(timeouts: TimeoutRequest[]) {
    this.batches.push(timeouts.map((t) => t.tokenId));
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('no responders');
    }
    return timeouts.map((t) => this.answer(t));
  }

  get sent(): string[] {
    return this.batches.flat();
  }
}

describe('the deadline gate', () => {
  let tokenService: FakeTokenService;
  let deleted: string[];
  let postponed: Parameters<FiredTimerWrites['postpone']>[0][];
  let gate: DeadlineGate;
  let metrics: SchedulerMetrics;

  const hold = (tokenId: string, dueInMs: number, leaseMs = LEASE_MS) =>
    gate.hold([{ tokenId, environment: 'dev', dueAt: new Date(Date.now() + dueInMs), leaseUntil: new Date(Date.now() + leaseMs) }]);

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(() => {
    jest.useFakeTimers({ now: START });
    tokenService = new FakeTokenService();
    deleted = [];
    postponed = [];
    metrics = new SchedulerMetrics({ countPending: async () => 0, heldInMemory: () => 0 });
    gate = new DeadlineGate(
      { fireBatchSize: 3, fireConcurrency: 1, leaseSafetyMs: 1_000, notDueRetryMs: 25 },
      { now: () => new Date() },
      tokenService,
      { delete: (id: string) => deleted.push(id), postpone: (p) => postponed.push(p) } as FiredTimerWrites,
      metrics,
    );
  });

  afterEach(() => {
    gate.dropAll();
    jest.useRealTimers();
  });

  it('fires a timer at its deadline, not a millisecond before', async () => {
    hold('a', 5_000);
    await jest.advanceTimersByTimeAsync(4_999);
    expect(tokenService.sent).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(tokenService.sent).toEqual(['a']);
  });

  it('deletes the timer once the token-service has answered, and records its lateness', async () => {
    hold('a', 100);
    await jest.advanceTimersByTimeAsync(100);
    expect(deleted).toEqual(['a']);
    expect(gate.size).toBe(0);
    expect((await metrics.lateness.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
  });

  it('sends timers that are all due (a backlog) in batches, oldest first', async () => {
    gate.hold(
      ['e', 'd', 'c', 'b', 'a'].map((tokenId, index) => ({
        tokenId,
        environment: 'dev',
        dueAt: new Date(START - 1_000 * index),
        leaseUntil: new Date(START + LEASE_MS),
      })),
    );
    await jest.advanceTimersByTimeAsync(0);
    expect(tokenService.batches).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
  });

  it('does not fire a timer whose token ended meanwhile', async () => {
    hold('a', 1_000);
    gate.forget('a');
    await jest.advanceTimersByTimeAsync(2_000);
    expect(tokenService.sent).toEqual([]);
  });

  it('retries after a back-off when the token-service cannot be reached', async () => {
    tokenService.failNext = 1;
    hold('a', 0);
    await jest.advanceTimersByTimeAsync(0);
    expect(tokenService.batches).toEqual([['a']]);
    await jest.advanceTimersByTimeAsync(249);
    expect(tokenService.batches).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(tokenService.batches).toEqual([['a'], ['a']]);
    expect(deleted).toEqual(['a']);
  });

  it("fires again shortly when the token-service's clock says the deadline has not come", async () => {
    tokenService.answer = ({ tokenId }) => rpcOk({ tokenId, status: 'WAITING', changed: false });
    hold('a', 0);
    await jest.advanceTimersByTimeAsync(0);
    tokenService.answer = timesOut;
    await jest.advanceTimersByTimeAsync(25);
    expect(tokenService.batches).toEqual([['a'], ['a']]);
    expect(deleted).toEqual(['a']);
  });

  it('leaves a timer whose lease is running out to the next claim instead of firing it', async () => {
    hold('a', 10_000, 10_500);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(tokenService.sent).toEqual([]);
    expect(gate.size).toBe(0);
    expect(deleted).toEqual([]);
  });

  describe('a deadline that moved (an extension not yet ingested, a heartbeat)', () => {
    const waitingUntil =
      (deadlineMs: number): Answer =>
      ({ tokenId }) =>
        rpcOk({ tokenId, status: 'WAITING', changed: false, deadline: new Date(deadlineMs).toISOString() });

    it('re-arms within the lease at the deadline the token-service answered, not 25 ms later', async () => {
      tokenService.answer = waitingUntil(START + 20_000);
      hold('a', 1_000);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(postponed).toEqual([{ tokenId: 'a', firedDueAt: new Date(START + 1_000), dueAt: new Date(START + 20_000), keepLease: true }]);
      tokenService.answer = timesOut;
      await jest.advanceTimersByTimeAsync(18_999);
      expect(tokenService.batches).toEqual([['a']]);
      await jest.advanceTimersByTimeAsync(1);
      expect(tokenService.batches).toEqual([['a'], ['a']]);
      expect(deleted).toEqual(['a']);
      expect((await metrics.notDueYet.get()).values[0]?.value ?? 0).toBe(0);
    });

    it('gives a timer whose new deadline is past its lease back to the table', async () => {
      tokenService.answer = waitingUntil(START + 3_600_000);
      hold('a', 1_000);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(postponed).toEqual([
        { tokenId: 'a', firedDueAt: new Date(START + 1_000), dueAt: new Date(START + 3_600_000), keepLease: false },
      ]);
      expect(gate.size).toBe(0);
      expect(deleted).toEqual([]);
    });

    it('takes a timer claimed again at a new deadline instead of the one it held', async () => {
      hold('a', 1_000);
      gate.hold([{ tokenId: 'a', environment: 'dev', dueAt: new Date(START + 5_000), leaseUntil: new Date(START + LEASE_MS) }]);
      await jest.advanceTimersByTimeAsync(4_999);
      expect(tokenService.sent).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect(tokenService.sent).toEqual(['a']);
    });
  });
});
