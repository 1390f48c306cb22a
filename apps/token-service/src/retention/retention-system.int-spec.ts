import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunningSystem, TEST_KEYS, startSystem } from '../../../../test/support/system';
import { eventually, tokenApi, withDatabase } from '../../../../test/support/scheduler';
import { LogCapture, getText, sampleValue } from '../../../../test/support/observability';
import { runRetentionCommand } from './retention-cli';

const DAY = 86_400_000;

/**
 * The whole system: tokens finished (by the token-service's clock) two days ago, published by the
 * real outbox relay, removed by `npm run retention:run` with a one-day retention: the REST API
 * answers 404 for them and lists them no more, and the archive holds them.
 */
describe('retention through the running system', () => {
  let system: RunningSystem;
  let archiveDir: string;
  const logs = new LogCapture();

  beforeAll(async () => {
    archiveDir = await mkdtemp(join(tmpdir(), 'waitpoints-archive-'));
    system = await startSystem({
      env: { LOG_LEVEL: 'info', ARCHIVE_DIR: archiveDir },
      // The service lives two days in the past: what it finishes is two days old for the CLI.
      tokenService: { clock: { now: () => new Date(Date.now() - 2 * DAY) }, logDestination: logs },
      gateway: { logDestination: new LogCapture() },
    });
  });

  afterAll(async () => {
    await system?.stop();
    await rm(archiveDir, { recursive: true, force: true });
  });

  it('says at start what retention does', () => {
    expect(logs.find((line) => String(line.msg).startsWith('token retention:'))[0]?.msg).toMatch(
      new RegExp(
        `removed 30d after they finished, checked every 1m in batches of 1000, at most 2000 tokens/s; their events are archived to ${archiveDir} first`,
      ),
    );
  });

  it('retention:run removes published finished tokens: retrieve answers 404, the list skips them, the waiting one stays', async () => {
    const api = tokenApi(system);
    const finished = (await api.create({ timeout: '1h', tags: ['retention'] })).id;
    const waiting = (await api.create({ timeout: '1h', tags: ['retention'] })).id;
    await api.complete(finished, { approved: true });
    await eventually('the outbox relay to checkpoint every event', () =>
      withDatabase(system.databaseUrl, async (db) => {
        const { rows } = await db.query(
          `SELECT count(*)::int AS n FROM es_events e, es_checkpoints c
            WHERE c.subscriber_id = $1 AND (e.transaction_id, e.global_position) > (c.last_transaction_id, c.last_global_position)`,
          [`jetstream:${system.subjectPrefix}`],
        );
        const [{ published }] = (
          await db.query(`SELECT count(*)::int AS published FROM es_checkpoints WHERE subscriber_id = $1`, [
            `jetstream:${system.subjectPrefix}`,
          ])
        ).rows;
        return published === 1 && rows[0].n === 0 ? true : undefined;
      }),
    );

    const printed: string[] = [];
    const env = {
      DATABASE_URL: system.databaseUrl,
      NATS_SUBJECT_PREFIX: system.subjectPrefix,
      TOKEN_RETENTION: '1d',
      ARCHIVE_DIR: archiveDir,
    };
    expect(await runRetentionCommand(['run'], env, (line) => printed.push(line))).toBe(0);
    expect(printed.at(-1)).toMatch(/^Removed 1 tokens in \d+ ms \(\d+ tokens\/minute\), archived to /);

    const retrieve = await fetch(`${system.tokensUrl}/${finished}`, { headers: { authorization: `Bearer ${TEST_KEYS.dev}` } });
    expect(retrieve.status).toBe(404);
    const list = await fetch(`${system.tokensUrl}?filter[tags]=retention`, { headers: { authorization: `Bearer ${TEST_KEYS.dev}` } });
    expect(((await list.json()) as { data: { id: string }[] }).data.map((t) => t.id)).toEqual([waiting]);
    expect(await api.retrieve(waiting)).toMatchObject({ status: 'WAITING' });

    const found: string[] = [];
    expect(await runRetentionCommand(['find', finished], env, (line) => found.push(line))).toBe(0);
    expect(found.map((line) => (JSON.parse(line) as { event_type: string }).event_type)).toEqual(['TokenCreated', 'TokenCompleted']);
  });

  it('serves the retention metrics', async () => {
    const { text } = await getText(`${system.tokenServiceOpsUrl}/metrics`);
    expect(text).toContain('waitpoints_retention_pass_duration_seconds');
    expect(sampleValue(text, 'waitpoints_retention_archive_failures_total')).toBe(0);
  });
});
