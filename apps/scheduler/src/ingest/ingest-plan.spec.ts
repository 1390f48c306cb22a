import type { EventEnvelope, TokenEvent } from '@waitpoints/contracts';
import { planIngest } from './ingest-plan';

type Ingested = Pick<EventEnvelope, 'type' | 'data' | 'streamVersion'>;

const created = (tokenId: string, timeoutAt = '2026-01-01T10:00:00.000Z', heartbeatTimeoutMs?: number): Ingested => ({
  type: 'TokenCreated',
  streamVersion: 1,
  data: { tokenId, environment: 'dev', timeoutAt, tags: [], createdAt: '2026-01-01T09:00:00.000Z', heartbeatTimeoutMs },
});
const extended = (tokenId: string, version: number, deadline: string): Ingested => ({
  type: 'TokenDeadlineExtended',
  streamVersion: version,
  data: {
    tokenId,
    environment: 'dev',
    timeoutAt: deadline,
    previousTimeoutAt: '2026-01-01T10:00:00.000Z',
    extendedAt: '2026-01-01T09:30:00.000Z',
    deadline,
  },
});
/** Only the token id matters to the plan for an ending event. */
const ended = (type: 'TokenCompleted' | 'TokenCancelled' | 'TokenTimedOut' | 'TokenRejected', tokenId: string): Ingested =>
  ({ type, streamVersion: 2, data: { tokenId, environment: 'dev' } }) as Ingested & { data: TokenEvent['data'] };

describe('learning deadlines from token events', () => {
  it('schedules a created token at its timeoutAt', () => {
    expect(planIngest([created('a', '2026-02-01T00:00:00.000Z')])).toEqual({
      schedule: [{ tokenId: 'a', environment: 'dev', dueAt: '2026-02-01T00:00:00.000Z', version: 1 }],
      forget: [],
    });
  });

  it('schedules a heartbeat token at its first heartbeat deadline (creation + heartbeat timeout) when that comes first', () => {
    expect(planIngest([created('a', '2026-02-01T00:00:00.000Z', 30_000)]).schedule[0].dueAt).toBe('2026-01-01T09:00:30.000Z');
    expect(planIngest([created('b', '2026-01-01T09:00:10.000Z', 30_000)]).schedule[0].dueAt).toBe('2026-01-01T09:00:10.000Z');
  });

  it('forgets a token that completed, was cancelled, rejected or timed out, saying why', () => {
    expect(
      planIngest([ended('TokenCompleted', 'a'), ended('TokenCancelled', 'b'), ended('TokenTimedOut', 'c'), ended('TokenRejected', 'd')])
        .forget,
    ).toEqual([
      { tokenId: 'a', reason: 'completed' },
      { tokenId: 'b', reason: 'cancelled' },
      { tokenId: 'c', reason: 'timed_out' },
      { tokenId: 'd', reason: 'rejected' },
    ]);
  });

  it('lets the end win over the creation in one batch, in either order (redeliveries reorder)', () => {
    for (const events of [
      [created('a'), ended('TokenCompleted', 'a')],
      [ended('TokenCompleted', 'a'), created('a')],
    ]) {
      expect(planIngest(events)).toEqual({ schedule: [], forget: [{ tokenId: 'a', reason: 'completed' }] });
    }
  });

  it('schedules a redelivered creation once', () => {
    expect(planIngest([created('a'), created('a')]).schedule).toHaveLength(1);
  });

  it('moves a timer to the deadline an extension recorded, tagged with its stream version', () => {
    expect(planIngest([extended('a', 2, '2026-03-01T00:00:00.000Z')]).schedule).toEqual([
      { tokenId: 'a', environment: 'dev', dueAt: '2026-03-01T00:00:00.000Z', version: 2 },
    ]);
  });

  it("keeps the latest event's deadline in one batch, whatever the order of arrival", () => {
    for (const events of [
      [created('a'), extended('a', 2, '2026-03-01T00:00:00.000Z'), extended('a', 3, '2026-04-01T00:00:00.000Z')],
      [extended('a', 3, '2026-04-01T00:00:00.000Z'), created('a'), extended('a', 2, '2026-03-01T00:00:00.000Z')],
    ]) {
      expect(planIngest(events).schedule).toEqual([{ tokenId: 'a', environment: 'dev', dueAt: '2026-04-01T00:00:00.000Z', version: 3 }]);
    }
  });

  it('lets the end win over an extension too', () => {
    expect(planIngest([extended('a', 2, '2026-03-01T00:00:00.000Z'), ended('TokenRejected', 'a')]).schedule).toEqual([]);
  });
});
