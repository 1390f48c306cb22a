import type { TokenEvent } from '@waitpoints/contracts';
import { planIngest } from './ingest-plan';

const created = (tokenId: string, timeoutAt = '2026-01-01T10:00:00.000Z'): TokenEvent => ({
  type: 'TokenCreated',
  data: { tokenId, environment: 'dev', timeoutAt, tags: [], createdAt: '2026-01-01T09:00:00.000Z' },
});
/** Only the token id matters to the plan for an ending event. */
const ended = (type: 'TokenCompleted' | 'TokenCancelled' | 'TokenTimedOut', tokenId: string) =>
  ({ type, data: { tokenId, environment: 'dev' } }) as TokenEvent;

describe('learning deadlines from token events', () => {
  it('schedules a created token at its timeoutAt', () => {
    expect(planIngest([created('a', '2026-02-01T00:00:00.000Z')])).toEqual({
      schedule: [{ tokenId: 'a', environment: 'dev', dueAt: '2026-02-01T00:00:00.000Z' }],
      forget: [],
    });
  });

  it('forgets a token that completed, was cancelled or timed out, saying why', () => {
    expect(
      planIngest([ended('TokenCompleted', 'a'), ended('TokenCancelled', 'b'), ended('TokenTimedOut', 'c')]).forget,
    ).toEqual([
      { tokenId: 'a', reason: 'completed' },
      { tokenId: 'b', reason: 'cancelled' },
      { tokenId: 'c', reason: 'timed_out' },
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
});
