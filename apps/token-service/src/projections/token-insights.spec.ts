import type { Database } from '../database/database';
import { STATS_REUSE_MS, STATS_SLOW_MS, TokenInsights } from './token-insights';

/** The overview's counts: computed afresh while cheap, reused for a moment once they are slow. */
describe("an environment's counts", () => {
  let now = Date.parse('2026-11-30T12:00:00Z');
  let queries = 0;
  /** How long each query takes on the fake clock. */
  let queryMs = 0;
  const db = {
    reads: {
      query: async (statement: string | { text: string }) => {
        queries++;
        now += queryMs;
        const text = typeof statement === 'string' ? statement : statement.text;
        return text.includes('count(*)') && !text.includes('GROUP BY') ? [{ n: 0 }] : [];
      },
    },
  } as unknown as Database;
  const insights = new TokenInsights(db, { now: () => new Date(now) });
  const countsQueriedBy = async (work: () => Promise<unknown>) => {
    const before = queries;
    await work();
    return queries - before;
  };

  it('are counted afresh on every request while counting is cheap', async () => {
    queryMs = 0;
    const first = await countsQueriedBy(() => insights.stats({ environment: 'cheap' }));
    expect(first).toBeGreaterThan(0);
    expect(await countsQueriedBy(() => insights.stats({ environment: 'cheap' }))).toBe(first);
  });

  it('are shared by requests that arrive while they are being counted', async () => {
    queryMs = 0;
    const [a, b] = [insights.stats({ environment: 'shared' }), insights.stats({ environment: 'shared' })];
    expect(a).toBe(b);
    await a;
  });

  it(`once slow (≥ ${STATS_SLOW_MS} ms), are reused for ${STATS_REUSE_MS} ms, then counted again`, async () => {
    queryMs = STATS_SLOW_MS;
    const first = await insights.stats({ environment: 'large' });
    queryMs = 0;
    expect(await countsQueriedBy(() => insights.stats({ environment: 'large' }))).toBe(0);
    expect(await insights.stats({ environment: 'large' })).toBe(first);
    now += STATS_REUSE_MS;
    expect(await countsQueriedBy(() => insights.stats({ environment: 'large' }))).toBeGreaterThan(0);
  });
});
