import type { Database } from '../database/database';
import { EXACT_STATUS_COUNT_LIMIT, STATS_REUSE_MS, TokenInsights } from './token-insights';

/** The overview's counts: computed afresh over a small history, reused for a moment over a large one. */
describe("an environment's counts", () => {
  let now = Date.parse('2026-11-30T12:00:00Z');
  let queries = 0;
  /** Tokens of each status in the fake table. */
  let perStatus = 0;
  const db = {
    reads: {
      query: async (statement: string | { text: string }) => {
        queries++;
        const text = typeof statement === 'string' ? statement : statement.text;
        if (text.startsWith('EXPLAIN')) return [{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': perStatus } }] }];
        if (text.includes('LIMIT $3')) return [{ n: Math.min(perStatus, EXACT_STATUS_COUNT_LIMIT + 1) }];
        return text.includes('count(*)') && !text.includes('GROUP BY') ? [{ n: 0 }] : [];
      },
    },
  } as unknown as Database;
  const insights = new TokenInsights(db, { now: () => new Date(now) });
  const queriesOf = async (work: () => Promise<unknown>) => {
    const before = queries;
    await work();
    return queries - before;
  };

  it('are counted afresh on every request over a small history', async () => {
    perStatus = 10;
    const first = await queriesOf(() => insights.stats({ environment: 'small' }));
    expect(first).toBeGreaterThan(0);
    expect(await queriesOf(() => insights.stats({ environment: 'small' }))).toBe(first);
  });

  it('are shared by requests that arrive while they are being counted', async () => {
    perStatus = 10;
    const [a, b] = [insights.stats({ environment: 'shared' }), insights.stats({ environment: 'shared' })];
    expect(a).toBe(b);
    await a;
  });

  it(`over a large history (a status beyond ${EXACT_STATUS_COUNT_LIMIT}), are reused for ${STATS_REUSE_MS} ms, then counted again`, async () => {
    perStatus = 2_000_000;
    const first = await insights.stats({ environment: 'large' });
    expect(first.estimated).toContain('COMPLETED');
    expect(await queriesOf(() => insights.stats({ environment: 'large' }))).toBe(0);
    expect(await insights.stats({ environment: 'large' })).toBe(first);
    now += STATS_REUSE_MS;
    expect(await queriesOf(() => insights.stats({ environment: 'large' }))).toBeGreaterThan(0);
  });
});
