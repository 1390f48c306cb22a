import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { connect, StringCodec } from 'nats';
import { Client } from 'pg';
import { parseDuration } from '@waitpoints/contracts';
import { DEFAULT_REQUEST_KEY_RETENTION } from '../../apps/token-service/src/config';
import { RETENTION_PASS_LOCK } from '../../apps/token-service/src/database/advisory-locks';
import { Database } from '../../apps/token-service/src/database/database';
import { runProjectionsCommand } from '../../apps/token-service/src/projections/maintenance/projections-cli';
import { RequestKeyRetention } from '../../apps/token-service/src/projections/request-key-retention';
import { withDatabase } from '../support/scheduler';
import { TEST_NATS_URL } from '../support/services';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

const auth = { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' };
const TABLES = ['waitpoint_tokens', 'waitpoint_idempotency_keys', 'waitpoint_request_keys'];

describe('projections:rebuild and projections:verify against real PostgreSQL', () => {
  let system: RunningSystem;
  const reader = `waitpoints_test_reader_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    system = await startSystem();
    await makeVariedTokens(system);
    await withDatabase(system.databaseUrl, async (db) => {
      await db.query(`CREATE ROLE ${reader} NOLOGIN`);
      await db.query(`GRANT SELECT ON waitpoint_tokens, waitpoint_idempotency_keys TO ${reader}`);
    });
  });

  afterAll(async () => {
    await system?.stop();
    await withDatabase(system.databaseUrl.replace(/\/[^/]+$/, '/postgres'), (db) => db.query(`DROP ROLE IF EXISTS ${reader}`));
  });

  const run = async (command: string) => {
    const lines: string[] = [];
    const code = await runProjectionsCommand([command], { DATABASE_URL: system.databaseUrl }, (line) => lines.push(line));
    return { code, output: lines.join('\n') };
  };

  const readTables = () =>
    withDatabase(system.databaseUrl, async (db) => {
      const rows: Record<string, unknown[]> = {};
      for (const table of TABLES)
        rows[table] = (await db.query(`SELECT to_jsonb(t) AS row FROM ${table} t ORDER BY 1::text`)).rows.map((r) => r.row);
      for (const table of TABLES) rows[table].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
      return rows;
    });

  const indexNames = () =>
    withDatabase(
      system.databaseUrl,
      async (db) => (await db.query(`SELECT tablename, indexname FROM pg_indexes WHERE tablename = ANY($1) ORDER BY 1, 2`, [TABLES])).rows,
    );

  it('verify finds the live tables equal to a replay of the events, and exits 0', async () => {
    const { code, output } = await run('verify');
    expect(output).toContain('The read tables match the event store.');
    expect(output).toMatch(/OK {3}waitpoint_tokens: \d+ live rows/);
    expect(code).toBe(0);
  });

  it('verify reports every row that differs from the events, and exits 1', async () => {
    const before = await readTables();
    const [waiting, finished] = await withDatabase(system.databaseUrl, async (db) => [
      (await db.query(`SELECT id FROM waitpoint_tokens WHERE status = 'WAITING' LIMIT 1`)).rows[0].id,
      (await db.query(`SELECT id FROM waitpoint_tokens WHERE status = 'COMPLETED' LIMIT 1`)).rows[0].id,
    ]);
    await withDatabase(system.databaseUrl, async (db) => {
      await db.query(`UPDATE waitpoint_tokens SET status = 'COMPLETED', completed_at = now() WHERE id = $1`, [waiting]);
      await db.query(`DELETE FROM waitpoint_tokens WHERE id = $1`, [finished]);
      await db.query(
        `INSERT INTO waitpoint_tokens (id, environment, status, timeout_at, created_at, updated_at, version)
         VALUES ('01zzzzzzzzzzzzzzzzzzzzzzzz', 'dev', 'WAITING', now(), now(), now(), 1)`,
      );
      await db.query(`DELETE FROM waitpoint_idempotency_keys`);
    });

    const { code, output } = await run('verify');
    expect(code).toBe(1);
    expect(output).toContain('DIFF waitpoint_tokens');
    expect(output).toContain('1 missing, 1 unexpected, 1 different');
    expect(output).toContain(`id=${waiting}: status is "COMPLETED", the events say "WAITING"`);
    expect(output).toContain(`id=${finished}: produced by the events, missing from the live table`);
    expect(output).toContain('id=01zzzzzzzzzzzzzzzzzzzzzzzz: in the live table, but the events do not produce it');
    expect(output).toMatch(/DIFF waitpoint_idempotency_keys: 0 live rows, \d+ from the events; \d+ missing/);
    expect(output).toContain('do NOT match');

    // rebuild repairs all of it, keeping index names and grants
    const indexesBefore = await indexNames();
    const rebuilt = await run('rebuild');
    expect(rebuilt.output).toMatch(/Rebuilt the read tables from \d+ events/);
    expect(rebuilt.code).toBe(0);
    expect(await readTables()).toEqual(before);
    expect(await indexNames()).toEqual(indexesBefore);
    await withDatabase(system.databaseUrl, async (db) => {
      const grants = await db.query(
        `SELECT has_table_privilege($1, 'waitpoint_tokens', 'SELECT') AS tokens,
                has_table_privilege($1, 'waitpoint_request_keys', 'SELECT') AS request_keys`,
        [reader],
      );
      expect(grants.rows[0]).toEqual({ tokens: true, request_keys: false });
      const schemas = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'waitpoints_projection%'`);
      expect(schemas.rows).toEqual([]);
    });
    expect((await run('verify')).code).toBe(0);
  });

  /** Runs `work` while 4 clients create and complete tokens; what they created, and what failed. */
  const underLoad = async <T>(work: () => Promise<T>) => {
    let stop = false;
    const statuses: number[] = [];
    const failures: string[] = [];
    const created: string[] = [];
    const load = async () => {
      while (!stop) {
        const response = await fetch(system.tokensUrl, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ idempotencyKey: randomBytes(6).toString('hex') }),
        });
        statuses.push(response.status);
        if (response.status !== 200) {
          failures.push(`create ${response.status} ${await response.text()}`);
          continue;
        }
        const { id } = (await response.json()) as { id: string };
        created.push(id);
        const completed = await fetch(`${system.tokensUrl}/${id}/complete`, { method: 'POST', headers: auth, body: '{"data":1}' });
        statuses.push(completed.status);
        if (completed.status !== 200) failures.push(`complete ${completed.status} ${await completed.text()}`);
      }
    };
    const workers = Array.from({ length: 4 }, load);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const result = await work();
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await Promise.all(workers);
    return { result, created, failures, statuses };
  };

  const expectAllCompleted = (created: string[]) =>
    withDatabase(system.databaseUrl, async (db) => {
      const ids = created.map((id) => id.replace('waitpoint_', ''));
      const found = await db.query(`SELECT count(*)::int AS n FROM waitpoint_tokens WHERE id = ANY($1) AND status = 'COMPLETED'`, [ids]);
      expect(found.rows[0].n).toBe(ids.length);
    });

  it('rebuild swaps the tables in while tokens are created and completed, losing nothing and failing no request', async () => {
    const { result: rebuilt, created, failures, statuses } = await underLoad(() => run('rebuild'));

    expect(rebuilt.code).toBe(0);
    expect(created.length).toBeGreaterThan(10);
    expect(failures).toEqual([]);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    const verified = await run('verify');
    expect(verified.output).toContain('The read tables match the event store.');
    await expectAllCompleted(created);
  });

  it('rebuild of a range that tokens are being created and completed in compares it before its lock, and loses nothing', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const lines: string[] = [];
    const {
      result: code,
      created,
      failures,
    } = await underLoad(() =>
      runProjectionsCommand(['rebuild', '--since', since], { DATABASE_URL: system.databaseUrl }, (line) => lines.push(line)),
    );

    expect(code).toBe(0);
    expect(created.length).toBeGreaterThan(10);
    expect(failures).toEqual([]);
    // Compared without the lock (tokens that moved since the last catch-up differ, and are
    // marked); what was committed after that is replayed and replaced under the lock.
    expect(lines.join('\n')).toMatch(/compared the range with the live tables before locking them: \d+ token\(s\) differ/);
    expect(lines.join('\n')).toMatch(/replaced the range after \d+ lock attempt\(s\); \d+ events replayed under the lock/);
    const verified = await run('verify');
    expect(verified.output).toContain('The read tables match the event store.');
    await expectAllCompleted(created);
  });

  it('rebuild waits for a retention pass in progress and holds retention off until it is done', async () => {
    // A replay cannot bring a removal back: a token removed meanwhile would reappear in the new tables.
    const pass = new Client({ connectionString: system.databaseUrl });
    await pass.connect();
    try {
      await pass.query(`SELECT pg_advisory_lock(hashtext($1))`, [RETENTION_PASS_LOCK]);
      const lines: string[] = [];
      let finished = false;
      const rebuild = runProjectionsCommand(['rebuild'], { DATABASE_URL: system.databaseUrl }, (line) => lines.push(line)).then((code) => {
        finished = true;
        return code;
      });
      for (let i = 0; i < 100 && !lines.some((line) => line.includes('a token retention pass is running')); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(lines.join('\n')).toContain('a token retention pass is running; waiting for it to finish');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(finished).toBe(false);
      await pass.query(`SELECT pg_advisory_unlock(hashtext($1))`, [RETENTION_PASS_LOCK]);
      expect(await rebuild).toBe(0);
      // Released with the rebuild: the next pass may run.
      const [{ locked }] = (await pass.query(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [RETENTION_PASS_LOCK])).rows;
      expect(locked).toBe(true);
    } finally {
      await pass.end();
    }
  });

  it('runs as npm run projections:verify, with the exit code telling the result', async () => {
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'projections:verify'], {
      env: { ...process.env, DATABASE_URL: system.databaseUrl },
      cwd: `${__dirname}/../..`,
    });
    expect(stdout).toContain('The read tables match the event store.');
    await withDatabase(system.databaseUrl, (db) =>
      db.query(`UPDATE waitpoint_tokens SET tags = '{tampered}' WHERE id = (SELECT min(id) FROM waitpoint_tokens)`),
    );
    const failed = await promisify(execFile)('npm', ['run', '--silent', 'projections:verify'], {
      env: { ...process.env, DATABASE_URL: system.databaseUrl },
      cwd: `${__dirname}/../..`,
    }).catch((error: { code: number; stdout: string }) => error);
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stdout: string }).stdout).toContain('tags is ["tampered"]');
    expect((await run('rebuild')).code).toBe(0);
  });

  it('request keys older than REQUEST_KEY_RETENTION are pruned in batches, and verify compares only the keys kept', async () => {
    // Its own system, whose clock first stands two days back: six creates recorded then, six now.
    const DAY = 86_400_000;
    let offsetMs = -2 * DAY;
    const aged = await startSystem({ tokenService: { clock: { now: () => new Date(Date.now() + offsetMs) } } });
    try {
      const create = async (key: string): Promise<string> => {
        const response = await fetch(aged.tokensUrl, {
          method: 'POST',
          headers: { ...auth, 'x-trigger-request-idempotency-key': key },
          body: JSON.stringify({ timeout: '7d' }),
        });
        expect(response.status).toBe(200);
        return ((await response.json()) as { id: string }).id;
      };
      const ids = new Map<string, string>();
      for (let i = 0; i < 6; i++) ids.set(`old-${i}`, await create(`old-${i}`));
      offsetMs = 0;
      for (let i = 0; i < 6; i++) ids.set(`new-${i}`, await create(`new-${i}`));

      const db = Database.connect({ url: aged.databaseUrl, poolSize: 2 });
      try {
        const retention = new RequestKeyRetention(db, { retentionMs: parseDuration(DEFAULT_REQUEST_KEY_RETENTION)!, batchSize: 4 });
        expect(await retention.prune()).toBe(6);
        expect(await retention.prune()).toBe(0);
      } finally {
        await db.close();
      }
      const verify = async (env: Record<string, string> = {}) => {
        const lines: string[] = [];
        const code = await runProjectionsCommand(['verify'], { DATABASE_URL: aged.databaseUrl, ...env }, (line) => lines.push(line));
        return { code, output: lines.join('\n') };
      };
      // The pruned keys are no difference: they are older than what the table keeps.
      expect(await verify()).toMatchObject({
        code: 0,
        output: expect.stringContaining('OK   waitpoint_request_keys: 6 live rows, 6 from the events'),
      });
      // Told to keep keys forever, verify does see them missing.
      const forever = await verify({ REQUEST_KEY_RETENTION: 'off' });
      expect(forever.code).toBe(1);
      expect(forever.output).toContain('DIFF waitpoint_request_keys: 6 live rows, 12 from the events; 6 missing');
      // A retry within the retention still finds its token; one of a pruned request makes a new
      // token, as a request without the header would.
      expect(await create('new-0')).toBe(ids.get('new-0'));
      expect(await create('old-0')).not.toBe(ids.get('old-0'));
    } finally {
      await aged.stop();
    }
  });
});

/** Every kind of event and every read table: waiting, completed (API, callback), cancelled, timed out, keys. */
async function makeVariedTokens(system: RunningSystem): Promise<void> {
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${system.tokensUrl}${path}`, {
      method: 'POST',
      headers: { ...auth, ...headers },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<{ id: string; url: string }>;
  };
  const tokens = [];
  for (let i = 0; i < 12; i++) {
    tokens.push(
      await post(
        '',
        { tags: [`t${i % 3}`, 'ops'], idempotencyKey: i % 2 ? `key-${i}` : undefined, timeout: '1h' },
        { 'x-trigger-request-idempotency-key': `req-${i}` },
      ),
    );
  }
  await post('', { idempotencyKey: 'key-1' }); // cached: no new event
  await post(`/${tokens[0].id}/complete`, { data: { approved: true } });
  await fetch(tokens[1].url, { method: 'POST', body: '{"via":"callback"}' });
  await post(`/${tokens[2].id}/cancel`, { reason: 'not needed' });
  const nc = await connect({ servers: TEST_NATS_URL });
  try {
    const codec = StringCodec();
    const data = {
      tokenId: tokens[3].id.replace('waitpoint_', ''),
      force: true,
      metadata: { correlationId: 'ops', actor: { type: 'operator' } },
    };
    await nc.request(
      `${system.subjectPrefix}.cmd.token.timeout`,
      codec.encode(JSON.stringify({ pattern: 'cmd.token.timeout', id: '1', data })),
      { timeout: 5000 },
    );
  } finally {
    await nc.close();
  }
}
