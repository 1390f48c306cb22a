/**
 * npm run bench:projections -- [--tokens=1000000] [--range-days=1] [--runs=verify,verify-range,rebuild,rebuild-range,verify]
 *
 * How long do projections:verify and projections:rebuild take over a long history? Seeds a fresh
 * database with TOKENS tokens over 30 days (bench/scale-seed.ts: the service's event and
 * projection format), then times, through the CLI's own entry point:
 *   verify (all tokens), verify --since/--until (a RANGE_DAYS-long range 10 days ago),
 *   rebuild (all tokens), rebuild of that range, and verify once more (must still match).
 * Prints each command's output (progress lines included) and writes
 * bench/results/projections-<time>.json with the durations and the load average. The database
 * is dropped at the end, also after a failure. Needs PostgreSQL only.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { ensureDatabaseExists } from '@waitpoints/platform';
import { migrationSource } from '../apps/token-service/src/database/database';
import { runProjectionsCommand } from '../apps/token-service/src/projections/maintenance/projections-cli';
import { seedTokens } from './scale-seed';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key, value ?? 'true'] as const;
  }),
);
const TOKENS = Number(args.get('tokens') ?? 1_000_000);
const RANGE_DAYS = Number(args.get('range-days') ?? 1);
const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DAY_MS = 86_400_000;

const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);

interface Timed {
  command: string;
  exitCode: number;
  seconds: number;
  summary: string[];
}

async function main() {
  const loadAtStart = loadavg();
  const url = new URL(ADMIN_URL);
  url.pathname = `/waitpoints_projections_${randomBytes(3).toString('hex')}`;
  const databaseUrl = url.toString();
  const runs: Timed[] = [];
  let seedSeconds = 0;
  try {
    await ensureDatabaseExists(databaseUrl);
    const source = migrationSource(databaseUrl);
    await source.initialize();
    await source.runMigrations({ transaction: 'each' }).finally(() => source.destroy());
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    const now = new Date();
    const seedStarted = Date.now();
    try {
      log(
        `seeding ${TOKENS.toLocaleString('en-US')} tokens into ${url.pathname.slice(1)} (load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')})`,
      );
      await seedTokens(client, {
        environment: 'dev',
        tokens: TOKENS,
        now,
        onProgress: (seeded) => seeded % 500_000 === 0 && log(`  seeded ${seeded.toLocaleString('en-US')}`),
      });
    } finally {
      await client.end();
    }
    seedSeconds = (Date.now() - seedStarted) / 1000;
    log(`seeded in ${seedSeconds.toFixed(1)} s`);

    const since = new Date(now.getTime() - 10 * DAY_MS).toISOString();
    const until = new Date(now.getTime() - (10 - RANGE_DAYS) * DAY_MS).toISOString();
    const range = ['--since', since, '--until', until];
    const all = { verify: ['verify'], 'verify-range': ['verify', ...range], rebuild: ['rebuild'], 'rebuild-range': ['rebuild', ...range] };
    // --runs=verify,rebuild: a subset, in the order given (the default ends with a second verify).
    const runNames = (args.get('runs') ?? 'verify,verify-range,rebuild,rebuild-range,verify').split(',');
    const unknown = runNames.filter((name) => !(name in all));
    if (unknown.length > 0) throw new Error(`unknown --runs ${unknown.join(', ')}: ${Object.keys(all).join(', ')}`);
    for (const command of runNames.map((name) => all[name as keyof typeof all])) {
      const label = command.join(' ');
      log(
        `projections ${label} (load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')})`,
      );
      const lines: string[] = [];
      const started = Date.now();
      const exitCode = await runProjectionsCommand(command, { DATABASE_URL: databaseUrl }, (line) => {
        lines.push(line);
        log(`  ${line}`);
      });
      const seconds = (Date.now() - started) / 1000;
      runs.push({ command: label, exitCode, seconds, summary: lines.filter((line) => !/ETA|\/s\)$/.test(line)) });
      log(`  exit ${exitCode} after ${seconds.toFixed(1)} s`);
    }
  } finally {
    const admin = new Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${url.pathname.slice(1)}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/projections-${TOKENS}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  const perMillion = (seconds: number) => Math.round((seconds / TOKENS) * 1_000_000 * 10) / 10;
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        tokens: TOKENS,
        rangeDays: RANGE_DAYS,
        // The code measured (uncommitted changes, if any, are not named by it).
        commit: execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(),
        seedSeconds,
        loadAverage: { start: loadAtStart, end: loadavg() },
        runs: runs.map((run) => ({ ...run, secondsPerMillionTokens: perMillion(run.seconds) })),
      },
      null,
      2,
    )}\n`,
  );
  console.table(
    runs.map((run) => ({ command: run.command, exit: run.exitCode, seconds: run.seconds, 's per M tokens': perMillion(run.seconds) })),
  );
  log(`written ${file}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
