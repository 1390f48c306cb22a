import { ListTokensQuery, ListTokensResult, TokenStatus } from '@waitpoints/contracts';
import { dropDatabase, requirePostgres, testDatabaseUrl, uniqueRunName } from '../../../../test/support/services';
import { Database, openDatabase } from '../database/database';
import { TokenQueries, lowestIdAt } from './token-queries';

const HOUR_MS = 3_600_000;
const STATUSES: TokenStatus[] = ['WAITING', 'COMPLETED', 'TIMED_OUT', 'CANCELLED'];

interface Seeded {
  id: string;
  status: TokenStatus;
  tags: string[];
  createdAt: Date;
}

/**
 * The token list at any size: the same answer whichever way the statement finds it. A tag
 * filter reads the tag's tokens through the GIN index when there are fewer than the candidate
 * limit, and walks the id order otherwise; a period bounds the walk by ids. Here the limit is
 * tiny, so both ways run on a few hundred rows, and every answer is compared with the filter
 * applied in memory, paged forwards and back.
 */
describe('listing tokens (keyset pages, newest first, whatever the filters)', () => {
  let db: Database;
  let databaseUrl: string;
  const tokens: Seeded[] = [];
  const now = Date.now();

  beforeAll(async () => {
    await requirePostgres();
    databaseUrl = testDatabaseUrl(uniqueRunName());
    db = await openDatabase({ url: databaseUrl, poolSize: 2 });
    // 300 tokens, one every 10 minutes over the last 50 hours; every one tagged "common",
    // every 50th also "rare". The id is timed up to a minute after created_at, as a batch may.
    for (let i = 0; i < 300; i++) {
      const createdAt = new Date(now - (300 - i) * 600_000);
      const idTime = new Date(createdAt.getTime() + (i % 7) * 10_000);
      const id = lowestIdAt(idTime).slice(0, 10) + String(i).padStart(16, '0');
      const tags = i % 50 === 0 ? ['common', 'rare'] : ['common'];
      tokens.push({ id, status: STATUSES[i % 4], tags, createdAt });
    }
    // The other environment's tokens share the tags: they count as candidates, never as results.
    await db.query(
      `INSERT INTO waitpoint_tokens (id, environment, status, timeout_at, tags, created_at, updated_at, version)
       SELECT t.id || e.suffix, e.env, t.status, t.created_at + interval '1 day', t.tags, t.created_at, t.created_at, 1
         FROM jsonb_to_recordset($1::jsonb) AS t(id text, status text, tags text[], created_at timestamptz)
         CROSS JOIN (VALUES ('dev', ''), ('prod', 'p')) AS e(env, suffix)`,
      [JSON.stringify(tokens.map((t) => ({ id: t.id, status: t.status, tags: t.tags, created_at: t.createdAt })))],
    );
    await db.query(`ANALYZE waitpoint_tokens`);
  });

  afterAll(async () => {
    await db?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  /** What a list must answer: the filters applied in memory, newest first. */
  function expected(query: Omit<ListTokensQuery, 'environment' | 'pageSize'>): string[] {
    const from = query.createdFrom ? new Date(query.createdFrom).getTime() : -Infinity;
    const to = query.createdTo ? new Date(query.createdTo).getTime() : Infinity;
    return tokens
      .filter((t) => !query.statuses || query.statuses.includes(t.status))
      .filter((t) => !query.tags || t.tags.some((tag) => query.tags!.includes(tag)))
      .filter((t) => t.createdAt.getTime() >= from && t.createdAt.getTime() <= to)
      .map((t) => t.id)
      .sort()
      .reverse();
  }

  /** Every page from the newest on, then back from the oldest page with `before`. */
  async function pageThrough(queries: TokenQueries, filters: Omit<ListTokensQuery, 'environment' | 'pageSize'>) {
    const forwards: string[] = [];
    const pages: ListTokensResult[] = [];
    let page = await queries.list(db.reads, { environment: 'dev', pageSize: 7, ...filters });
    for (;;) {
      pages.push(page);
      forwards.push(...page.tokens.map((t) => t.id));
      if (!page.next) break;
      page = await queries.list(db.reads, { environment: 'dev', pageSize: 7, ...filters, after: page.next });
    }
    const backwards: string[] = [];
    let back = pages[pages.length - 1];
    while (back.previous) {
      back = await queries.list(db.reads, { environment: 'dev', pageSize: 7, ...filters, before: back.previous });
      backwards.unshift(...back.tokens.map((t) => t.id));
    }
    const lastPage = pages[pages.length - 1].tokens.map((t) => t.id);
    return { forwards, backwardsThenLast: [...backwards, ...lastPage] };
  }

  const hoursAgo = (hours: number) => new Date(now - hours * HOUR_MS).toISOString();
  const filterSets: [string, Omit<ListTokensQuery, 'environment' | 'pageSize'>][] = [
    ['no filter', {}],
    ['a status', { statuses: ['CANCELLED'] }],
    ['two statuses', { statuses: ['WAITING', 'TIMED_OUT'] }],
    ['a rare tag', { tags: ['rare'] }],
    ['a common tag', { tags: ['common'] }],
    ['a tag no token has', { tags: ['nobody'] }],
    ['a rare or a missing tag', { tags: ['nobody', 'rare'] }],
    ['a period', { createdFrom: hoursAgo(30), createdTo: hoursAgo(20) }],
    ['a period from', { createdFrom: hoursAgo(5) }],
    ['a period to', { createdTo: hoursAgo(45) }],
    [
      'a common tag, a status and a period',
      { tags: ['common'], statuses: ['COMPLETED'], createdFrom: hoursAgo(40), createdTo: hoursAgo(10) },
    ],
    ['a rare tag and a status', { tags: ['rare'], statuses: ['WAITING'] }],
  ];

  describe.each([
    ['tags read through the GIN index (candidate limit above every tag)', new TokenQueries({ tagCandidateLimit: 10_000 })],
    ['common tags walk the id order (candidate limit 20: "rare" has 12 tokens, "common" 600)', new TokenQueries({ tagCandidateLimit: 20 })],
  ])('%s', (_, queries) => {
    it.each(filterSets)('%s: every matching token once, newest first, paged forwards and back alike', async (__, filters) => {
      const { forwards, backwardsThenLast } = await pageThrough(queries, filters);
      expect(forwards).toEqual(expected(filters));
      expect(backwardsThenLast).toEqual(expected(filters));
    });
  });

  it('finds a token whose id was timed after its creation time (within the slack) by a period ending at that time', async () => {
    const late = tokens.find((t, i) => i % 7 === 6)!;
    const page = await new TokenQueries().list(db.reads, {
      environment: 'dev',
      pageSize: 1,
      createdFrom: late.createdAt.toISOString(),
      createdTo: late.createdAt.toISOString(),
    });
    expect(page.tokens.map((t) => t.id)).toEqual([late.id]);
  });
});
