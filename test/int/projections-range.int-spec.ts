import { Client } from 'pg';
import { ensureDatabaseExists } from '@waitpoints/platform';
import { migrationSource } from '../../apps/token-service/src/database/database';
import { runProjectionsCommand } from '../../apps/token-service/src/projections/maintenance/projections-cli';
import { seedTokens } from '../../bench/scale-seed';
import { dropDatabase, requirePostgres, testDatabaseUrl, uniqueRunName } from '../support/services';
import { withDatabase } from '../support/scheduler';

const DAY_MS = 86_400_000;
/** Three rows a comparison page and three events a replay chunk: every table spans many pages. */
const PAGE = ['--page-size', '3'];

/**
 * projections:verify and projections:rebuild limited to a creation range, over tokens seeded in
 * the service's format (bench/scale-seed.ts: 600 tokens over 30 days, about 20 a day), in a
 * database of this file's own.
 */
describe('projections:verify and projections:rebuild with --since/--until, page by page', () => {
  const databaseUrl = testDatabaseUrl(uniqueRunName());
  const now = new Date('2026-11-30T12:00:00.000Z');
  const since = new Date(now.getTime() - 10 * DAY_MS);
  const until = new Date(now.getTime() - 9 * DAY_MS);
  const range = ['--since', since.toISOString(), '--until', until.toISOString()];
  let inside: string[];
  let outside: string;

  const run = async (...args: string[]) => {
    const lines: string[] = [];
    const code = await runProjectionsCommand(args, { DATABASE_URL: databaseUrl }, (line) => lines.push(line));
    return { code, output: lines.join('\n') };
  };
  const sql = <T>(text: string, values?: unknown[]) =>
    withDatabase(databaseUrl, async (db: Client) => (await db.query(text, values)).rows as T[]);

  beforeAll(async () => {
    await requirePostgres();
    await ensureDatabaseExists(databaseUrl);
    const source = migrationSource(databaseUrl);
    await source.initialize();
    await source.runMigrations({ transaction: 'each' }).finally(() => source.destroy());
    await withDatabase(databaseUrl, (db) => seedTokens(db, { environment: 'dev', tokens: 600, now, chunk: 250 }));
    inside = (
      await sql<{ id: string }>(
        `SELECT id FROM waitpoint_tokens WHERE created_at >= $1 AND created_at < $2 AND status = 'COMPLETED' ORDER BY id`,
        [since, until],
      )
    ).map((row) => row.id);
    [{ id: outside }] = await sql<{ id: string }>(
      `SELECT id FROM waitpoint_tokens WHERE created_at < $1 AND status = 'COMPLETED' ORDER BY id LIMIT 1`,
      [since],
    );
  });

  afterAll(() => dropDatabase(databaseUrl));

  it('verify over a range compares exactly the tokens created in it, across many pages', async () => {
    const [{ count }] = await sql<{ count: string }>(`SELECT count(*) FROM waitpoint_tokens WHERE created_at >= $1 AND created_at < $2`, [
      since,
      until,
    ]);
    expect(Number(count)).toBeGreaterThan(10);
    const { code, output } = await run('verify', ...range, ...PAGE);
    expect(output).toContain(`Verified tokens created from ${since.toISOString()} until ${until.toISOString()}`);
    expect(output).toContain(`OK   waitpoint_tokens: ${count} live rows, ${count} from the events`);
    expect(code).toBe(0);
  });

  it('verify over a range finds a drifted and a missing row inside it and ignores a drifted row outside it', async () => {
    const [drifted, removed] = [inside[2], inside[5]];
    await sql(`UPDATE waitpoint_tokens SET status = 'WAITING', completed_at = NULL WHERE id = $1`, [drifted]);
    await sql(`DELETE FROM waitpoint_tokens WHERE id = $1`, [removed]);
    await sql(`UPDATE waitpoint_tokens SET tags = '{drifted}' WHERE id = $1`, [outside]);

    const ranged = await run('verify', ...range, ...PAGE);
    expect(ranged.code).toBe(1);
    expect(ranged.output).toMatch(/DIFF waitpoint_tokens: .*; 1 missing, 0 unexpected, 1 different/);
    expect(ranged.output).toContain(`waitpoint_tokens id=${drifted}: status is "WAITING", the events say "COMPLETED"`);
    expect(ranged.output).toContain(`waitpoint_tokens id=${removed}: produced by the events, missing from the live table`);
    expect(ranged.output).not.toContain(outside);

    const whole = await run('verify', ...PAGE);
    expect(whole.code).toBe(1);
    expect(whole.output).toMatch(/DIFF waitpoint_tokens: .*; 1 missing, 0 unexpected, 2 different/);
    expect(whole.output).toContain(`waitpoint_tokens id=${outside}: tags is ["drifted"]`);
  });

  it('rebuild over a range repairs the rows inside it and leaves every row outside it as it was', async () => {
    const before = await sql<{ row: unknown }>(
      `SELECT to_jsonb(t) AS row FROM waitpoint_tokens t WHERE NOT (created_at >= $1 AND created_at < $2) ORDER BY id`,
      [since, until],
    );
    const rebuilt = await run('rebuild', ...range, ...PAGE);
    expect(rebuilt.output).toMatch(/Rebuilt the read tables from \d+ events \(tokens created from \S+ until \S+\)/);
    expect(rebuilt.output).toContain(`(tokens created from ${since.toISOString()} until ${until.toISOString()})`);
    // The drifted and the missing row were found before the lock; only their tokens were replaced under it.
    expect(rebuilt.output).toContain('compared the range with the live tables before locking them: 2 token(s) differ');
    expect(rebuilt.code).toBe(0);

    expect((await run('verify', ...range, ...PAGE)).code).toBe(0);
    const after = await sql<{ row: unknown }>(
      `SELECT to_jsonb(t) AS row FROM waitpoint_tokens t WHERE NOT (created_at >= $1 AND created_at < $2) ORDER BY id`,
      [since, until],
    );
    expect(after).toEqual(before);
    // The drift outside the range is still there: the range's rebuild did not touch it.
    const whole = await run('verify', ...PAGE);
    expect(whole.output).toMatch(/DIFF waitpoint_tokens: .*; 0 missing, 0 unexpected, 1 different/);
    expect(whole.output).toMatch(/OK {3}waitpoint_idempotency_keys/);
  });

  it('a full rebuild, page by page, repairs the rest and keeps the heartbeat deadlines that heartbeats moved', async () => {
    // Heartbeats move a WAITING token's deadline with no event: a replay cannot know it, the rebuild carries it over.
    const [{ id: waiting }] = await sql<{ id: string }>(`SELECT id FROM waitpoint_tokens WHERE status = 'WAITING' ORDER BY id LIMIT 1`);
    const moved = new Date('2030-01-01T00:00:00.000Z');
    await sql(`UPDATE waitpoint_tokens SET heartbeat_deadline = $2 WHERE id = $1`, [waiting, moved]);
    expect((await run('rebuild', ...PAGE)).code).toBe(0);
    const [{ heartbeat_deadline }] = await sql<{ heartbeat_deadline: Date }>(
      `SELECT heartbeat_deadline FROM waitpoint_tokens WHERE id = $1`,
      [waiting],
    );
    expect(heartbeat_deadline).toEqual(moved);
    const { code, output } = await run('verify', ...PAGE);
    expect(output).toContain('The read tables match the event store.');
    expect(code).toBe(0);
  });

  it('refuses bad arguments with a clear message and exit code 2', async () => {
    const bad = await run('verify', '--since', 'yesterday');
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('--since "yesterday" is not an ISO 8601 time');
  });
});
