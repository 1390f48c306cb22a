/**
 * npm run bench:retention -- [--scenario=pass|flat] …
 *
 * What retention (apps/token-service/src/retention) costs and whether it keeps the hot tables flat.
 *
 * --scenario=pass (default) [--finished=1000000] [--rate=500] [--baseline=20] [--after=10]
 *                           [--archive=true|false] [--batch=1000] [--port=3930]
 *                           [--probe=15] [--probe-rates=400,300,250,200,150,100]
 *   Seeds a fresh database (bench/scale-seed.ts: 30 days of history, 10 % WAITING) with enough
 *   tokens that about FINISHED of them are finished more than an hour ago, starts the compiled
 *   services over it with TOKEN_RETENTION=off (so they do not run a pass themselves), and sends
 *   an open-loop mixed load through the gateway at RATE requests/s (each request leaves at its
 *   planned time whatever the earlier ones do; latency counts from the planned time):
 *     30 % create, 20 % complete (of a token created in this run; a create when none is left),
 *     35 % retrieve (a random seeded token that retention does not remove), 15 % list first page.
 *   RATE is first probed for PROBE (15) seconds; if its p99 is 50 ms or more, or a request fails,
 *   the lower PROBE_RATES (400,300,250,200,150,100) are tried in turn and the first that passes is
 *   used (or the last tried). After BASELINE seconds it runs the retention pass as an operator would (`npm run
 *   retention:run`, the compiled retention-cli, a process of its own) on the same database with
 *   TOKEN_RETENTION=1h and ARCHIVE_DIR a temporary directory (unless --archive=false), keeps the
 *   load going until the pass ends, then AFTER more seconds. Reports tokens removed per minute,
 *   the pass duration, the load's p50/p99/max and failures in the baseline, during the pass and
 *   after, disk (pg_total_relation_size) and row counts before and after, and archive bytes.
 *
 * --scenario=flat [--minutes=30] [--retention=5m] [--interval=1m] [--tokens-per-second=50]
 *                 [--complete-after=1] [--sample=30] [--vacuum=auto|<seconds>] [--port=3931]
 *   A fresh, empty database; the services run with TOKEN_RETENTION, RETENTION_INTERVAL and
 *   ARCHIVE_DIR (temporary); an open-loop load creates TOKENS_PER_SECOND tokens/s and completes
 *   each COMPLETE_AFTER seconds later. Every SAMPLE seconds: total size of the hot tables
 *   (es_events, waitpoint_tokens, the two key tables, scheduler_timers), their row counts, and the
 *   archive's size. Reports growth in the second half vs the first, and after the first retention
 *   window. Deleted rows' space is reused once vacuum marks it free: with the server's autovacuum
 *   off (this project's CI configuration), the bench VACUUMs the hot tables every 60 s
 *   (--vacuum=auto; a number of seconds, or 0 for none). The JSON is rewritten at every sample,
 *   so an interrupted run keeps what it measured.
 *
 * Results: bench/results/retention-<scenario>-<time>.json. Needs `npm run build` (the script
 * runs it), PostgreSQL and NATS (see support.ts).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { parseDuration } from '@waitpoints/contracts';
import { seededDatabase } from './seeded-database';
import { BenchSystem, benchSystemName, deleteJetStreamState, startBenchSystem } from './support';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key, value ?? 'true'] as const;
  }),
);
const SCENARIO = args.get('scenario') ?? 'pass';
const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The bench system's API key belongs to this environment (support.ts: API_KEYS=dev:…). */
const ENVIRONMENT = 'dev';
const HOT_TABLES = ['es_events', 'waitpoint_tokens', 'waitpoint_idempotency_keys', 'waitpoint_request_keys', 'scheduler_timers'];
const TOKENS_PATH = '/api/v1/waitpoints/tokens';

const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
const load = () => loadavg().map((v) => Math.round(v * 100) / 100);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentiles(values: number[]) {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
  const round = (v: number) => Math.round(v * 10) / 10;
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1] ?? NaN) };
}

interface Sample {
  /** Planned send time, ms since the load started. */
  at: number;
  latency: number;
  ok: boolean;
  kind: string;
}

function summarize(samples: Sample[], seconds: number) {
  const failures: Record<string, number> = {};
  for (const s of samples) if (!s.ok) failures[s.kind] = (failures[s.kind] ?? 0) + 1;
  const byKind: Record<string, ReturnType<typeof percentiles> & { requests: number }> = {};
  for (const kind of new Set(samples.map((s) => s.kind))) {
    const of = samples.filter((s) => s.kind === kind);
    byKind[kind] = { requests: of.length, ...percentiles(of.map((s) => s.latency)) };
  }
  return {
    requests: samples.length,
    seconds: Math.round(seconds * 10) / 10,
    perSecond: Math.round(samples.length / Math.max(seconds, 0.001)),
    ...percentiles(samples.map((s) => s.latency)),
    failed: samples.filter((s) => !s.ok).length,
    failures,
    byKind,
  };
}

/**
 * An open-loop load: `rate` requests/s, each sent at its planned time (a 5 ms tick sends what is
 * due), latency from the planned time to the end of the body, so a stall counts for every request
 * that should have left during it.
 */
class OpenLoop {
  readonly samples: Sample[] = [];
  private sent = 0;
  private inFlight = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  readonly startedAt = performance.now();

  constructor(
    private readonly rate: number,
    private readonly request: (i: number) => { kind: string; run: () => Promise<boolean> },
  ) {
    this.timer = setInterval(() => this.tick(), 5);
  }

  now(): number {
    return performance.now() - this.startedAt;
  }

  private tick() {
    const due = Math.floor((this.now() * this.rate) / 1000);
    while (this.sent < due) {
      const i = this.sent++;
      const at = (i * 1000) / this.rate;
      const { kind, run } = this.request(i);
      const p = run()
        .catch(() => false)
        .then((ok) => {
          this.samples.push({ at, latency: this.now() - at, ok, kind });
        });
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
  }
}

async function query<T extends Record<string, unknown>>(databaseUrl: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** pg_total_relation_size (table + indexes + TOAST) and row count of each hot table that exists. */
async function tables(databaseUrl: string, counts = true) {
  const result: Record<string, { bytes: number; rows?: number }> = {};
  for (const table of HOT_TABLES) {
    const [row] = await query<{ bytes: string | null }>(databaseUrl, `SELECT pg_total_relation_size(to_regclass($1)) AS bytes`, [table]);
    if (row.bytes === null) continue;
    result[table] = { bytes: Number(row.bytes) };
    if (counts) {
      const [{ n }] = await query<{ n: string }>(databaseUrl, `SELECT count(*) AS n FROM ${table}`);
      result[table].rows = Number(n);
    }
  }
  const totalBytes = Object.values(result).reduce((sum, t) => sum + t.bytes, 0);
  return { totalBytes, totalMB: Math.round((totalBytes / 1_048_576) * 10) / 10, tables: result };
}

function dirBytes(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
    files++;
  }
  return { bytes, files };
}

function writeResult(file: string, result: unknown) {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}

const resultFile = (scenario: string) => `bench/results/retention-${scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;

/** The HTTP side of the load: create, complete, retrieve, list. */
function client(system: BenchSystem) {
  const auth = { authorization: `Bearer ${system.apiKey}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const url = `${system.baseUrl}${TOKENS_PATH}`;
  const created: string[] = [];
  return {
    created,
    create: async () => {
      const response = await fetch(url, { method: 'POST', headers: json, body: '{"timeout":"1h","tags":["bench"]}' });
      if (!response.ok) {
        await response.arrayBuffer();
        return false;
      }
      created.push(((await response.json()) as { id: string }).id);
      return true;
    },
    complete: async (id: string) => {
      const response = await fetch(`${url}/${id}/complete`, { method: 'POST', headers: json, body: '{"data":{"ok":true}}' });
      await response.arrayBuffer();
      return response.ok;
    },
    get: async (path: string) => {
      const response = await fetch(`${url}${path}`, { headers: auth });
      await response.arrayBuffer();
      return response.ok;
    },
  };
}

const seeded = (name: string, tokens: number) => seededDatabase({ adminUrl: ADMIN_URL, name, tokens, environment: ENVIRONMENT, log });

async function dropDatabase(name: string) {
  await query(ADMIN_URL, `DROP DATABASE IF EXISTS "waitpoints_${name}" WITH (FORCE)`).catch(() => undefined);
}

/** Runs the compiled retention-cli (what `npm run retention:run` runs) and collects its output. */
function retentionRun(env: Record<string, string>): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, ['dist/apps/token-service/src/retention/retention-cli.js', 'run'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const done = new Promise<{ code: number | null; output: string }>((resolve) => child.once('exit', (code) => resolve({ code, output })));
  return { child, done };
}

async function scenarioPass() {
  const finished = Number(args.get('finished') ?? 1_000_000);
  // scale-seed: 10 % WAITING, and a token created in the last hour may still be waiting; 1.5 % spare.
  const tokens = Number(args.get('tokens') ?? Math.ceil((finished / 0.9) * 1.015));
  const rate = Number(args.get('rate') ?? 500);
  const baselineSeconds = Number(args.get('baseline') ?? 20);
  const afterSeconds = Number(args.get('after') ?? 10);
  const warmupSeconds = Number(args.get('warmup') ?? 5);
  const probeSeconds = Number(args.get('probe') ?? 15);
  const probeRates = (args.get('probe-rates') ?? '400,300,250,200,150,100').split(',').map(Number);
  const withArchive = args.get('archive') !== 'false';
  const batch = args.get('batch') ?? '1000';
  const port = Number(args.get('port') ?? 3930);
  const retention = '1h';
  const loadAtStart = load();
  log(`bench:retention pass: ${tokens.toLocaleString('en-US')} tokens seeded, ${rate} requests/s, load average ${loadAtStart.join(' ')}`);
  const name = benchSystemName();
  const archiveDir = mkdtempSync(join(tmpdir(), 'waitpoints-retention-bench-'));
  let system: BenchSystem | undefined;
  try {
    const { url, seedSeconds } = await seeded(name, tokens);
    const [{ removable }] = await query<{ removable: string }>(
      url,
      `SELECT count(*) AS removable FROM waitpoint_tokens WHERE status <> 'WAITING' AND completed_at < now() - $1::interval`,
      [retention],
    );
    const before = await tables(url);
    log(
      `  seeded in ${seedSeconds.toFixed(1)} s: ${Number(removable).toLocaleString('en-US')} finished more than ${retention} ago; ${before.totalMB} MB`,
    );
    // Tokens a retrieve may ask for: seeded ones the pass keeps (WAITING, or finished within half
    // the retention). Not the whole retention: retention:run repeats passes until one removes
    // nothing, each with a later cutoff, so a token that finished just inside the retention when
    // the run began is removed by a later pass (and a retrieve of it rightly answers 404).
    const keptIds = (
      await query<{ id: string }>(
        url,
        `SELECT id FROM waitpoint_tokens TABLESAMPLE SYSTEM (2)
          WHERE status = 'WAITING' OR completed_at >= now() - $1::interval / 2 LIMIT 5000`,
        [retention],
      )
    ).map((r) => `waitpoint_${r.id}`);
    system = await startBenchSystem({ name, port, scheduler: true, env: { TOKEN_RETENTION: 'off' } });
    const http = client(system);
    let completed = 0;
    const mix = (i: number) => {
      const slot = i % 20;
      if (slot < 6) return { kind: 'create', run: http.create };
      if (slot < 10) {
        const id = http.created[completed];
        if (id !== undefined) {
          completed++;
          return { kind: 'complete', run: () => http.complete(id) };
        }
        return { kind: 'create', run: http.create };
      }
      if (slot < 17) return { kind: 'retrieve', run: () => http.get(`/${keptIds[(i * 7919) % keptIds.length]}`) };
      return { kind: 'list', run: () => http.get('?page[size]=20') };
    };
    // The rate: RATE if the system sustains it (p99 < 50 ms, nothing failed), else the highest of
    // the lower probe rates that it does (or the lowest tried), each probed for PROBE seconds.
    const probes: (ReturnType<typeof summarize> & { rate: number })[] = [];
    let chosen = rate;
    if (probeSeconds > 0) {
      const warm = new OpenLoop(Math.min(rate, 100), mix);
      await sleep(warmupSeconds * 1000);
      await warm.stop();
      for (const candidate of [rate, ...probeRates.filter((r) => r < rate)]) {
        const probe = new OpenLoop(candidate, mix);
        await sleep(probeSeconds * 1000);
        await probe.stop();
        const summary = { rate: candidate, ...summarize(probe.samples, probeSeconds) };
        probes.push(summary);
        log(
          `  probe ${candidate}/s: p50 ${summary.p50} p99 ${summary.p99} max ${summary.max} ms, ${summary.failed} failed, load ${load().join(' ')}`,
        );
        chosen = candidate;
        if (summary.p99 < 50 && summary.failed === 0) break;
        await sleep(3_000);
      }
    }
    log(`  services up (TOKEN_RETENTION=off); warm-up ${warmupSeconds} s, baseline ${baselineSeconds} s at ${chosen}/s`);
    const loop = new OpenLoop(chosen, mix);
    await sleep((warmupSeconds + baselineSeconds) * 1000);
    const passStartedAt = loop.now();
    const loadAtPass = load();
    log(
      `  retention pass starts (TOKEN_RETENTION=${retention}, ${withArchive ? `ARCHIVE_DIR=${archiveDir}` : 'no archive'}), load average ${loadAtPass.join(' ')}`,
    );
    const run = retentionRun({
      DATABASE_URL: url,
      NATS_SUBJECT_PREFIX: name,
      TOKEN_RETENTION: retention,
      RETENTION_BATCH_SIZE: batch,
      LOG_LEVEL: 'silent',
      ...(withArchive ? { ARCHIVE_DIR: archiveDir } : { ARCHIVE_DIR: '' }),
    });
    const progress = setInterval(() => {
      const done = loop.samples.filter((s) => s.at >= passStartedAt);
      const recent = done.filter((s) => s.at >= loop.now() - 11_000 && s.at < loop.now() - 1_000);
      const p = percentiles(recent.map((s) => s.latency));
      log(
        `    pass running ${((loop.now() - passStartedAt) / 1000).toFixed(0)} s; load last 10 s p50 ${p.p50} p99 ${p.p99} max ${p.max} ms, failed so far ${done.filter((s) => !s.ok).length}`,
      );
    }, 30_000);
    const { code, output } = await run.done;
    clearInterval(progress);
    const passEndedAt = loop.now();
    const loadAtPassEnd = load();
    log(`  retention pass ended (exit ${code}): ${output.trim().split('\n').pop()}`);
    await sleep(afterSeconds * 1000);
    await loop.stop();
    const loadAtEnd = load();
    const after = await tables(url);
    const [{ left }] = await query<{ left: string }>(
      url,
      `SELECT count(*) AS left FROM waitpoint_tokens WHERE status <> 'WAITING' AND completed_at < now() - $1::interval`,
      [retention],
    );
    // The CLI's own count (it also removes what crossed the cutoff during the pass); else the difference of the counts.
    const removedByCount = Number(removable) - Number(left);
    const removed = Number(/Removed (\d+) tokens/.exec(output)?.[1] ?? removedByCount);
    const passSeconds = (passEndedAt - passStartedAt) / 1000;
    const warm = warmupSeconds * 1000;
    const baseline = summarize(
      loop.samples.filter((s) => s.at >= warm && s.at < passStartedAt),
      (passStartedAt - warm) / 1000,
    );
    const during = summarize(
      loop.samples.filter((s) => s.at >= passStartedAt && s.at < passEndedAt),
      passSeconds,
    );
    const afterPass = summarize(
      loop.samples.filter((s) => s.at >= passEndedAt),
      afterSeconds,
    );
    // The pass's load in 30 s windows: does it get worse as the pass goes on?
    const windows = [];
    for (let from = passStartedAt; from < passEndedAt; from += 30_000) {
      const of = loop.samples.filter((s) => s.at >= from && s.at < Math.min(from + 30_000, passEndedAt));
      windows.push({
        fromSecond: Math.round((from - passStartedAt) / 1000),
        requests: of.length,
        failed: of.filter((s) => !s.ok).length,
        ...percentiles(of.map((s) => s.latency)),
      });
    }
    const archive = withArchive ? dirBytes(archiveDir) : undefined;
    const result = {
      scenario: 'pass',
      date: new Date().toISOString(),
      machine: { cores: cpus().length, note: 'shared with other work', node: process.version },
      loadAverage: { start: loadAtStart, passStart: loadAtPass, passEnd: loadAtPassEnd, end: loadAtEnd },
      settings: {
        tokensSeeded: tokens,
        rate,
        baselineSeconds,
        warmupSeconds,
        afterSeconds,
        retention,
        batchSize: Number(batch),
        archive: withArchive,
        how: 'retention-cli run (compiled), its own process, while the services run with TOKEN_RETENTION=off',
        mix: '30% create, 20% complete (of tokens created in the run), 35% retrieve (seeded tokens the pass keeps), 15% list first page (20)',
      },
      seedSeconds,
      probes,
      removable: Number(removable),
      removed,
      removedByCount,
      passSeconds: Math.round(passSeconds * 10) / 10,
      tokensPerMinute: Math.round(removed / (passSeconds / 60)),
      retentionCliOutput: output.trim(),
      load: { baseline, during, after: afterPass, duringBy30s: windows },
      disk: {
        before,
        after,
        note: 'PostgreSQL does not give the space of deleted rows back to the file system; autovacuum makes it reusable (see scenario flat)',
      },
      archive: archive && { ...archive, bytesPerMillionTokens: Math.round((archive.bytes / Math.max(removed, 1)) * 1_000_000) },
    };
    const file = resultFile('pass');
    writeResult(file, result);
    log(
      `  removed ${removed.toLocaleString('en-US')} in ${passSeconds.toFixed(1)} s: ${result.tokensPerMinute.toLocaleString('en-US')} tokens/minute`,
    );
    console.table({ baseline, during, after: afterPass }, ['perSecond', 'requests', 'p50', 'p99', 'max', 'failed']);
    console.table({ before: { MB: before.totalMB }, after: { MB: after.totalMB } });
    if (archive)
      log(
        `  archive ${(archive.bytes / 1_048_576).toFixed(1)} MB in ${archive.files} files: ${(result.archive!.bytesPerMillionTokens / 1_048_576).toFixed(1)} MB per million tokens`,
      );
    log(`written ${file}`);
  } finally {
    if (system) await system.stop();
    else await dropDatabase(name);
    await deleteJetStreamState(name).catch(() => undefined);
    rmSync(archiveDir, { recursive: true, force: true });
  }
}

async function scenarioFlat() {
  const minutes = Number(args.get('minutes') ?? 30);
  const retention = args.get('retention') ?? '5m';
  const interval = args.get('interval') ?? '1m';
  const perSecond = Number(args.get('tokens-per-second') ?? 50);
  const completeAfterMs = Number(args.get('complete-after') ?? 1) * 1000;
  const sampleSeconds = Number(args.get('sample') ?? 30);
  const port = Number(args.get('port') ?? 3931);
  const loadAtStart = load();
  log(
    `bench:retention flat: ${minutes} min, ${perSecond} tokens/s created and completed, TOKEN_RETENTION=${retention}, RETENTION_INTERVAL=${interval}, load average ${loadAtStart.join(' ')}`,
  );
  const name = benchSystemName();
  const archiveDir = mkdtempSync(join(tmpdir(), 'waitpoints-retention-bench-'));
  const file = resultFile('flat');
  let system: BenchSystem | undefined;
  try {
    system = await startBenchSystem({
      name,
      port,
      scheduler: true,
      env: { TOKEN_RETENTION: retention, RETENTION_INTERVAL: interval, ARCHIVE_DIR: archiveDir },
    });
    const http = client(system);
    const databaseUrl = system.databaseUrl;
    // Deleted rows' space is reused only once vacuum has marked it free. A server with autovacuum
    // off (this project's CI configuration) gets a plain VACUUM of the hot tables every VACUUM
    // seconds instead (--vacuum=auto: 60 s when autovacuum is off, none when on; --vacuum=0: none).
    const [{ autovacuum }] = await query<{ autovacuum: string }>(databaseUrl, `SELECT current_setting('autovacuum') AS autovacuum`);
    const vacuumArg = args.get('vacuum') ?? 'auto';
    const vacuumSeconds = vacuumArg === 'auto' ? (autovacuum === 'on' ? 0 : 60) : Number(vacuumArg);
    const vacuums: number[] = [];
    const vacuumStartedAt = Date.now();
    const vacuumTimer =
      vacuumSeconds > 0
        ? setInterval(() => {
            void query(databaseUrl, `VACUUM ${HOT_TABLES.join(', ')}`).then(
              () => vacuums.push(Math.round(((Date.now() - vacuumStartedAt) / 60_000) * 100) / 100),
              (error: Error) => log(`  VACUUM failed: ${error.message}`),
            );
          }, vacuumSeconds * 1000)
        : undefined;
    log(
      `  server autovacuum ${autovacuum}; ${vacuumSeconds > 0 ? `VACUUM of the hot tables every ${vacuumSeconds} s` : 'no VACUUM by the bench'}`,
    );
    // Every second request a create, every other a complete of a token created COMPLETE_AFTER ago.
    const createdAt: number[] = [];
    let completed = 0;
    const loop = new OpenLoop(perSecond * 2, (i) => {
      if (i % 2 === 0) {
        return {
          kind: 'create',
          run: async () => {
            const ok = await http.create();
            if (ok) createdAt.push(performance.now());
            return ok;
          },
        };
      }
      if (completed < http.created.length && createdAt[completed] <= performance.now() - completeAfterMs) {
        const id = http.created[completed++];
        return { kind: 'complete', run: () => http.complete(id) };
      }
      return { kind: 'retrieve', run: () => http.get(http.created.length ? `/${http.created[http.created.length - 1]}` : '?page[size]=1') };
    });
    const samples: {
      minute: number;
      totalMB: number;
      totalBytes: number;
      tables: Record<string, { bytes: number; rows?: number }>;
      archiveBytes: number;
      archiveFiles: number;
      loadAverage: number[];
    }[] = [];
    const result = () => {
      const half = minutes / 2;
      const at = (m: number) => samples.reduce((best, s) => (Math.abs(s.minute - m) < Math.abs(best.minute - m) ? s : best), samples[0]);
      const first = samples[0];
      const middle = at(half);
      const last = samples[samples.length - 1];
      const rows = (s: (typeof samples)[number]) => Object.values(s.tables).reduce((n, t) => n + (t.rows ?? 0), 0);
      // After the first retention window (retention + two intervals): growth in its first half vs its second, rows' range.
      const settled = () => {
        const from = (parseDuration(retention)! + 2 * parseDuration(interval)!) / 60_000;
        const after = samples.filter((s) => s.minute >= from);
        if (after.length < 3) return undefined;
        const mid = after[Math.floor((after.length - 1) / 2)];
        const end = after[after.length - 1];
        const counts = after.map(rows);
        return {
          fromMinute: after[0].minute,
          midMinute: mid.minute,
          toMinute: end.minute,
          firstHalfMB: Math.round((mid.totalBytes - after[0].totalBytes) / 104_857.6) / 10,
          secondHalfMB: Math.round((end.totalBytes - mid.totalBytes) / 104_857.6) / 10,
          rowsMin: Math.min(...counts),
          rowsMax: Math.max(...counts),
        };
      };
      return {
        scenario: 'flat',
        date: new Date().toISOString(),
        machine: { cores: cpus().length, note: 'shared with other work', node: process.version },
        loadAverage: { start: loadAtStart, last: samples.length ? last.loadAverage : undefined },
        settings: {
          minutes,
          retention,
          interval,
          tokensPerSecond: perSecond,
          completeAfterMs,
          sampleSeconds,
          mix: 'create + complete (of a token created COMPLETE_AFTER ago); when none is due, a retrieve of the newest',
        },
        vacuum: { serverAutovacuum: autovacuum, benchVacuumEverySeconds: vacuumSeconds, atMinutes: vacuums },
        ranMinutes: samples.length ? last.minute : 0,
        growth: samples.length
          ? {
              firstHalfMB: Math.round((middle.totalBytes - first.totalBytes) / 104_857.6) / 10,
              secondHalfMB: Math.round((last.totalBytes - middle.totalBytes) / 104_857.6) / 10,
              rowsAtHalf: rows(middle),
              rowsAtEnd: rows(last),
              halfAtMinute: middle.minute,
            }
          : undefined,
        afterFirstWindow: settled(),
        load: summarize(loop.samples, loop.now() / 1000),
        samples,
      };
    };
    const started = Date.now();
    const end = started + minutes * 60_000;
    for (;;) {
      const t = await tables(databaseUrl);
      const archive = dirBytes(archiveDir);
      samples.push({
        minute: Math.round(((Date.now() - started) / 60_000) * 100) / 100,
        ...t,
        archiveBytes: archive.bytes,
        archiveFiles: archive.files,
        loadAverage: load(),
      });
      const s = samples[samples.length - 1];
      log(
        `  ${s.minute.toFixed(1)} min: hot tables ${s.totalMB} MB, rows ${JSON.stringify(Object.fromEntries(Object.entries(s.tables).map(([k, v]) => [k, v.rows])))}, archive ${(s.archiveBytes / 1_048_576).toFixed(1)} MB, load ${s.loadAverage.join(' ')}`,
      );
      writeResult(file, result());
      if (Date.now() >= end) break;
      await sleep(Math.min(sampleSeconds * 1000, end - Date.now()));
    }
    await loop.stop();
    clearInterval(vacuumTimer);
    const final = result();
    writeResult(file, final);
    log(
      `  growth first half ${final.growth?.firstHalfMB} MB, second half ${final.growth?.secondHalfMB} MB; rows ${final.growth?.rowsAtHalf} → ${final.growth?.rowsAtEnd}`,
    );
    log(
      `  load: ${final.load.perSecond}/s p50 ${final.load.p50} p99 ${final.load.p99} max ${final.load.max} ms, ${final.load.failed} failed`,
    );
    log(`written ${file}`);
  } finally {
    if (system) await system.stop();
    else await dropDatabase(name);
    await deleteJetStreamState(name).catch(() => undefined);
    rmSync(archiveDir, { recursive: true, force: true });
  }
}

(SCENARIO === 'flat' ? scenarioFlat() : scenarioPass()).catch((error) => {
  console.error(error);
  process.exit(1);
});
