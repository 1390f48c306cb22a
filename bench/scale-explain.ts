/**
 * npm run bench:scale:explain -- [--tokens=1000000] [--database-url=postgres://…] [--keep] [--tag-statistics=10]
 *
 * The plans behind bench:scale: every list filter (alone and combined) and the overview's
 * status count, as the token-service sends them (TokenQueries builds the statements), run with
 * EXPLAIN ANALYZE three times on a seeded database; prints the plan's top node, the rows and
 * the first and best execution times. Seeds a fresh database (bench/scale-seed.ts) unless
 * --database-url names one already seeded (environment "dev"); drops it at the end unless --keep.
 * --tag-statistics=N sets the tags column's statistics target before ANALYZE (10 puts rare
 * tags outside the most-common-elements list, as on a large real table; -1 the default).
 */
import { Client } from 'pg';
import { ensureDatabaseExists } from '@waitpoints/platform';
import { ListTokensQuery, TOKEN_STATUSES } from '@waitpoints/contracts';
import { migrationSource } from '../apps/token-service/src/database/database';
import { TokenQueries } from '../apps/token-service/src/projections/token-queries';
import { EXACT_STATUS_COUNT_LIMIT } from '../apps/token-service/src/projections/token-insights';
import { COMMON_TAGS, rareTag, seedTokens } from './scale-seed';
import { benchSystemName } from './support';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, ...value] = arg.replace(/^--/, '').split('=');
    return [key, value.length > 0 ? value.join('=') : 'true'] as const;
  }),
);
const TOKENS = Number(args.get('tokens') ?? 1_000_000);
const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Statement {
  text: string;
  values: unknown[];
}

async function main() {
  const given = args.get('database-url');
  let url = given;
  if (!url) {
    const admin = new URL(ADMIN_URL);
    admin.pathname = `/waitpoints_${benchSystemName()}`;
    url = admin.toString();
    await ensureDatabaseExists(url);
    const source = migrationSource(url);
    await source.initialize();
    await source.runMigrations({ transaction: 'each' });
    await source.destroy();
  }
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    if (!given) {
      console.log(`seeding ${TOKENS.toLocaleString('en-US')} tokens into ${new URL(url).pathname.slice(1)}`);
      await seedTokens(client, { environment: 'dev', tokens: TOKENS });
    }
    const target = args.get('tag-statistics');
    if (target !== undefined) {
      await client.query(`ALTER TABLE waitpoint_tokens ALTER COLUMN tags SET STATISTICS ${Number(target)}`);
      await client.query('ANALYZE waitpoint_tokens');
    }
    // As the token-service's sessions (database.ts).
    await client.query('SET random_page_cost = 1.1');
    const tokens = Number((await client.query(`SELECT count(*) AS n FROM waitpoint_tokens`)).rows[0].n);
    const deep = (await client.query(`SELECT id FROM waitpoint_tokens WHERE environment = 'dev' ORDER BY id DESC OFFSET 379 LIMIT 1`))
      .rows[0]?.id;
    const now = Date.now();
    const daysAgo = (days: number) => new Date(now - days * 86_400_000).toISOString();
    const filters: [string, Partial<ListTokensQuery>][] = [
      ['no filter', {}],
      ...TOKEN_STATUSES.map((status) => [`status ${status}`, { statuses: [status] }] as [string, Partial<ListTokensQuery>]),
      ['common tag', { tags: [COMMON_TAGS[1]] }],
      ['rare tag', { tags: [rareTag(tokens, 8)] }],
      ['tag no token has', { tags: ['no-such-tag'] }],
      ['period=1h', { createdFrom: new Date(now - 3_600_000).toISOString() }],
      ['period 10 to 9 days ago', { createdFrom: daysAgo(10), createdTo: daysAgo(9) }],
      ['idempotency key', { idempotencyKey: `order-${Math.floor(tokens / 10) * 5}` }],
      ['20th page', { after: deep }],
      ['rare tag + COMPLETED', { tags: [rareTag(tokens, 8)], statuses: ['COMPLETED'] }],
      ['common tag + CANCELLED, 20th page', { tags: [COMMON_TAGS[2]], statuses: ['CANCELLED'], after: deep }],
      ['common tag + period 10 to 9 days ago', { tags: [COMMON_TAGS[3]], createdFrom: daysAgo(10), createdTo: daysAgo(9) }],
    ];
    const rows: Record<string, unknown>[] = [];
    const explain = async (name: string, statement: Statement) => {
      const times: number[] = [];
      let plan: { Plan: { 'Node Type': string; 'Actual Rows': number }; 'Execution Time': number } | undefined;
      for (let i = 0; i < 3; i++) {
        const result = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`, statement.values);
        plan = result.rows[0]['QUERY PLAN'][0];
        times.push(plan!['Execution Time']);
      }
      rows.push({
        query: name,
        top: plan!.Plan['Node Type'],
        rows: plan!.Plan['Actual Rows'],
        'first ms': times[0],
        'best ms': Math.min(...times),
      });
    };
    for (const [name, filter] of filters) {
      let captured: Statement = { text: '', values: [] };
      const capture = {
        query: async (text: string, values?: unknown[]) => {
          captured = { text, values: values ?? [] };
          return [];
        },
      };
      await new TokenQueries().list(capture, { environment: 'dev', pageSize: 20, ...filter });
      await explain(`list: ${name}`, captured);
    }
    for (const status of TOKEN_STATUSES) {
      await explain(`overview: ${status} (bounded count)`, {
        text: `SELECT count(*)::int AS n FROM (SELECT 1 FROM waitpoint_tokens WHERE environment = $1 AND status = $2 LIMIT $3) bounded`,
        values: ['dev', status, EXACT_STATUS_COUNT_LIMIT + 1],
      });
    }
    await explain('overview before: count(*) GROUP BY status', {
      text: `SELECT status, count(*)::int AS n FROM waitpoint_tokens WHERE environment = $1 GROUP BY status`,
      values: ['dev'],
    });
    console.log(`${tokens.toLocaleString('en-US')} tokens`);
    console.table(rows);
  } finally {
    await client.end();
    if (!given && !args.has('keep')) {
      const admin = new Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`);
      await admin.end();
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
