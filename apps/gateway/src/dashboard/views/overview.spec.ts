import { TokenStatsResult } from '@waitpoints/contracts';
import { overviewFragment } from './overview';

const stats = (extra: Partial<TokenStatsResult> = {}): TokenStatsResult => ({
  at: '2026-11-30T12:00:00.000Z',
  byStatus: { WAITING: 120, COMPLETED: 4_200_000, TIMED_OUT: 300, CANCELLED: 7, REJECTED: 0 },
  lastHour: { created: 5, completed: 4, timedOut: 0, cancelled: 0, rejected: 0 },
  ...extra,
});
const unavailable = { available: false as const, reason: 'not configured' };

/** The overview's counts say when they are estimates (more tokens than the token-service counts exactly). */
describe('overview counts', () => {
  it('marks an estimated status with ≈ and explains where the figure comes from', () => {
    const page = overviewFragment(stats({ estimated: ['COMPLETED'] }), unavailable);

    expect(page).toContain('≈ 4,200,000');
    expect(page).not.toContain('≈ 120');
    expect(page).toContain(`data-testid="estimated-counts">≈ estimated from PostgreSQL's table statistics`);
    expect(page).toContain('≈ 4,200,427 tokens in all');
  });

  it('shows exact counts without any mark', () => {
    const page = overviewFragment(stats(), unavailable);

    expect(page).not.toContain('≈');
    expect(page).toContain('4,200,000');
  });
});
