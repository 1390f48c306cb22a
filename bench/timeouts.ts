/**
 * npm run bench:timeouts -- [--scale=1] [--no-graphile] [--together] [--keep]
 *
 * Boots the whole system (token-service, gateway, scheduler: the compiled apps, each in its
 * own process) on a fresh database and subject prefix, plus graphile-worker as a peer on the
 * same PostgreSQL, and measures:
 *   1. scheduler memory with PENDING far-future timers held (1,000,000 at scale 1);
 *   2. steady firing: RATE timeouts per second for STEADY_SECONDS (1,000/s for 60 s);
 *   3. a burst: BURST deadlines within the same second (100,000), and how fast they drain.
 * Phases 2 and 3 run with the pending timers still held. graphile-worker then gets the same
 * shape of deadlines as `runAt` jobs, in its own phases after ours (our services still up, idle),
 * so neither side's figures carry the other's load on this 2-core machine; `--together` instead
 * adds a job for each of our deadlines so that both fire in the same seconds (contention).
 *
 * Lateness, ours: TokenTimedOut.timedOutAt − deadline (the token-service's decision time,
 * so it includes the scheduler's fire, NATS and the token-service). Graphile-worker's: task
 * start − run_at. Both on this host's clock. Results: a table on stdout and JSON in bench/results/.
 *
 * --scale multiplies the steady duration, the burst and the pending count (not the rate);
 * --steady-seconds=, --burst=, --pending= and --rate= set one size directly.
 */
import { ChildProcess, fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, timeout } from 'rxjs';
import { connect } from 'nats';
import { Client } from 'pg';
import { makeWorkerUtils, WorkerUtils } from 'graphile-worker';
import { CreateTokenCommand, CreateTokenResult, RpcReply, TokenCommandSubjects, eventStreamName } from '@waitpoints/contracts';
import { PrefixedNatsClient } from '@waitpoints/contracts/nats/prefixed-transport';
import { distribution, histogramQuantiles, ourResults, schedulerMetrics } from './lateness';

const ROOT = join(__dirname, '..');
const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key, value ?? 'true'] as const;
  }),
);
const SCALE = Number(args.get('scale') ?? 1);
const RATE = Number(args.get('rate') ?? 1_000);
const sized = (name: string, full: number, min: number) =>
  args.has(name) ? Number(args.get(name)) : Math.max(min, Math.round(full * SCALE));
const STEADY_SECONDS = sized('steady-seconds', 60, 1);
const BURST = sized('burst', 100_000, 100);
const PENDING = sized('pending', 1_000_000, 0);
const WITH_GRAPHILE = !args.has('no-graphile');
/** Fire graphile-worker's jobs in the same seconds as ours (contention) instead of in its own phases after ours. */
const TOGETHER = args.has('together');
const KEEP = args.has('keep');
const CREATE_CONCURRENCY = 128;

const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const NAME = `bench${Date.now().toString(36)}`;
const DATABASE_URL = (() => {
  const url = new URL(ADMIN_URL);
  url.pathname = `/waitpoints_${NAME}`;
  return url.toString();
})();
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const STAMP = new Date().toISOString().replace(/[:.]/g, '-');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${message}`);

// ---------------------------------------------------------------- processes

mkdirSync(RESULTS_DIR, { recursive: true });
const serviceLog = createWriteStream(join(RESULTS_DIR, `timeouts-${STAMP}.log`));
const children: ChildProcess[] = [];
/** Closed before the database is dropped. */
const closers: (() => Promise<unknown>)[] = [];

function startService(name: string, script: string, readyLine: RegExp): Promise<ChildProcess> {
  const env = {
    ...process.env,
    DATABASE_URL,
    NATS_URL,
    NATS_SUBJECT_PREFIX: NAME,
    PORT: '0',
    HOST: '127.0.0.1',
    NODE_ENV: 'development',
  };
  const child = spawn(process.execPath, [join(ROOT, script)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const onLine = (chunk: Buffer) => {
      const text = chunk.toString();
      serviceLog.write(text.replace(/^/gm, `${name}: `));
      if (readyLine.test(text)) resolve(child);
    };
    child.stdout!.on('data', onLine);
    child.stderr!.on('data', onLine);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready (see the log)`)));
  });
}

function startGraphilePeer(): Promise<ChildProcess> {
  const child = fork(join(ROOT, 'bench', 'graphile-peer.ts'), [], {
    env: { ...process.env, DATABASE_URL, GRAPHILE_POLL_INTERVAL_MS: '500', TS_NODE_TRANSPILE_ONLY: 'true' },
    execArgv: ['-r', 'ts-node/register'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.push(child);
  child.stdout!.on('data', (c: Buffer) => serviceLog.write(c.toString().replace(/^/gm, 'graphile: ')));
  child.stderr!.on('data', (c: Buffer) => serviceLog.write(c.toString().replace(/^/gm, 'graphile: ')));
  return new Promise((resolve, reject) => {
    child.once('message', (m: { type: string }) => (m.type === 'ready' ? resolve(child) : reject(new Error('peer'))));
    child.once('exit', (code) => reject(new Error(`graphile peer exited with ${code}`)));
  });
}

function graphileReport(peer: ChildProcess, phase: string): Promise<{ lateness: number[]; lastStart: number }> {
  return new Promise((resolve) => {
    const onMessage = (m: { type: string; phase: string; lateness: number[]; lastStart: number }) => {
      if (m.type !== 'report' || m.phase !== phase) return;
      peer.off('message', onMessage);
      resolve(m);
    };
    peer.on('message', onMessage);
    peer.send({ type: 'report', phase });
  });
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** Samples a process's RSS every 250 ms; `stop()` returns the largest. */
function watchRss(pid: number) {
  let max = rssMb(pid);
  const timer = setInterval(() => (max = Math.max(max, rssMb(pid))), 250);
  return {
    current: () => rssMb(pid),
    stop: () => {
      clearInterval(timer);
      return Math.max(max, rssMb(pid));
    },
  };
}

/** CPU seconds used so far, per component: our children by pid, PostgreSQL and NATS by process name. */
function cpuSeconds(named: Record<string, number | undefined>): Record<string, number> {
  const ticks = (pid: number | string) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /, '')
        .split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0;
    }
  };
  const result: Record<string, number> = {};
  for (const [name, pid] of Object.entries(named)) if (pid) result[name] = ticks(pid) / 100;
  const byCommand: Record<string, number> = { postgres: 0, 'nats-server': 0 };
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let command: string;
    try {
      command = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (command in byCommand) byCommand[command] += ticks(pid) / 100;
  }
  return { ...result, ...byCommand };
}

function cpuUsedSince(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, Math.round((v - (before[k] ?? 0)) * 10) / 10]));
}

// ---------------------------------------------------------------- load

async function createTokens(
  client: PrefixedNatsClient,
  deadlines: Date[],
  tag: string,
  graphile: WorkerUtils | undefined,
): Promise<{ seconds: number }> {
  const startedAt = Date.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= deadlines.length) return;
      const command: CreateTokenCommand = {
        environment: 'bench',
        idempotencyKeyTTLMs: 3_600_000,
        timeout: { at: deadlines[index].toISOString() },
        tags: [tag],
        metadata: { correlationId: randomUUID(), actor: { type: 'operator', id: 'bench' } },
      };
      const reply = await firstValueFrom(
        client.send<RpcReply<CreateTokenResult>>(TokenCommandSubjects.create, command).pipe(timeout(30_000)),
      );
      if (!reply.ok) throw new Error(`create failed: ${reply.error.message}`);
    }
  };
  const creating = Promise.all(Array.from({ length: CREATE_CONCURRENCY }, worker));
  const adding = graphile ? addGraphileJobs(graphile, deadlines, tag) : Promise.resolve();
  await Promise.all([creating, adding]);
  return { seconds: (Date.now() - startedAt) / 1000 };
}

async function addGraphileJobs(graphile: WorkerUtils, deadlines: Date[], tag: string): Promise<void> {
  for (let i = 0; i < deadlines.length; i += 2_000) {
    await graphile.addJobs(
      deadlines.slice(i, i + 2_000).map((runAt, j) => ({
        identifier: 'waitpoint_timeout',
        payload: { phase: tag },
        runAt,
        jobKey: `${tag}-${i + j}`,
        maxAttempts: 1,
      })),
    );
  }
}

function prefixKeys(prefix: string, values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [`${prefix}${key}`, value]));
}

async function waitForAll(what: string, expected: number, count: () => Promise<number>, deadline: number): Promise<number> {
  let seen = 0;
  while (Date.now() < deadline) {
    seen = await count();
    if (seen >= expected) return seen;
    await sleep(1_000);
  }
  log(`WARNING: ${what}: only ${seen} of ${expected} before giving up`);
  return seen;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  log(`scale ${SCALE}: pending ${PENDING}, steady ${RATE}/s × ${STEADY_SECONDS} s, burst ${BURST} in one second; db ${DATABASE_URL}`);
  const tokenService = await startService('token-service', 'dist/apps/token-service/src/main.js', /listening on NATS/);
  const gateway = await startService('gateway', 'dist/apps/gateway/src/main.js', /listening|started|Nest application successfully/i);
  const scheduler = await startService('scheduler', 'dist/apps/scheduler/src/main.js', /learning deadlines from/);
  let peer = WITH_GRAPHILE && TOGETHER ? await startGraphilePeer() : undefined;
  const graphile = WITH_GRAPHILE ? await makeWorkerUtils({ connectionString: DATABASE_URL }) : undefined;
  if (graphile) closers.push(async () => graphile.release());
  const client = new PrefixedNatsClient(NAME, { servers: [NATS_URL] });
  await client.connect();
  closers.push(() => client.close());
  const db = new Client({ connectionString: DATABASE_URL });
  db.on('error', () => undefined);
  await db.connect();
  closers.push(() => db.end());
  const results: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    sizes: { scale: SCALE, rate: RATE, steadySeconds: STEADY_SECONDS, burst: BURST, pending: PENDING },
    peer: WITH_GRAPHILE
      ? {
          name: 'graphile-worker',
          version: JSON.parse(readFileSync(join(ROOT, 'node_modules/graphile-worker/package.json'), 'utf8')).version,
          pollIntervalMs: 500,
          concurrency: 10,
          mode: TOGETHER ? 'together' : 'separate',
        }
      : null,
  };
  const schedulerRss = watchRss(scheduler.pid!);
  // Note: postgres and nats-server are counted machine-wide (other work on the machine shows up there).
  const cpuNow = () =>
    cpuSeconds({
      scheduler: scheduler.pid,
      tokenService: tokenService.pid,
      gateway: gateway.pid,
      graphileWorker: peer?.pid,
      bench: process.pid,
    });

  // 1. Pending timers: far-future rows straight into the scheduler's table (creating a million
  // real tokens through the token-service would take the better part of an hour here).
  const rssBefore = schedulerRss.current();
  log(`inserting ${PENDING} far-future timers…`);
  for (let done = 0; done < PENDING; done += 250_000) {
    const n = Math.min(250_000, PENDING - done);
    await db.query(
      `INSERT INTO scheduler_timers (token_id, environment, due_at)
       SELECT 'pending-' || g, 'bench', now() + interval '7 days' + g * interval '1 second'
         FROM generate_series($1::int + 1, $1::int + $2::int) g`,
      [done, n],
    );
  }
  await db.query(`VACUUM ANALYZE scheduler_timers`);
  await sleep(3_000);
  const rssWithPending = schedulerRss.current();
  log(`scheduler RSS ${rssBefore.toFixed(0)} MB → ${rssWithPending.toFixed(0)} MB with ${PENDING} pending`);

  // Creation throughput decides how far ahead the deadlines must be.
  const warmup = await createTokens(
    client,
    Array.from({ length: 2_000 }, () => new Date(Date.now() + 86_400_000)),
    'warmup',
    undefined,
  );
  const createRate = 2_000 / warmup.seconds;
  log(`creation runs at ~${createRate.toFixed(0)} tokens/s`);

  const countTimedOut = (tag: string) => async () =>
    Number((await db.query(`SELECT count(*) AS n FROM waitpoint_tokens WHERE status = 'TIMED_OUT' AND $1 = ANY(tags)`, [tag])).rows[0].n);

  /** Our side of one phase: create the tokens ahead, then watch them time out. */
  const oursPhase = async (tag: string, count: number, shape: (startMs: number) => Date[], patienceMs: number) => {
    const startMs = Date.now() + ((count / createRate) * 1.6 + 20) * 1_000;
    const deadlines = shape(startMs);
    const alongside = TOGETHER ? graphile : undefined;
    log(`[waitpoints] creating ${count} tokens${alongside ? ' (and graphile jobs)' : ''} due from ${new Date(startMs).toISOString()}…`);
    const created = await createTokens(client, deadlines, tag, alongside);
    log(`[waitpoints] created in ${created.seconds.toFixed(1)} s; firing starts in ${((startMs - Date.now()) / 1000).toFixed(1)} s`);
    if (Date.now() > startMs - 11_000) log('WARNING: creation ran into the look-ahead window of the first deadlines');
    await sleep(startMs - Date.now() - 2_000);
    const metricsBefore = await schedulerMetrics(client);
    await sleep(startMs - Date.now());
    const rss = watchRss(scheduler.pid!);
    const cpuBefore = cpuNow();
    const lastDeadlineMs = deadlines[deadlines.length - 1].getTime();
    await waitForAll(`${tag} timeouts`, count, countTimedOut(tag), lastDeadlineMs + patienceMs);
    const rssMax = rss.stop();
    const cpu = cpuUsedSince(cpuBefore, cpuNow());
    const schedulerOwn = histogramQuantiles(metricsBefore, await schedulerMetrics(client));
    const rows = await ourResults(db, tag);
    let peerLateness = { lateness: [] as number[], lastStart: 0 };
    if (TOGETHER && peer) {
      await waitForAll(
        `graphile ${tag} jobs`,
        count,
        async () => (await graphileReport(peer!, tag)).lateness.length,
        lastDeadlineMs + patienceMs,
      );
      peerLateness = await graphileReport(peer, tag);
    }
    return { startMs, created, rssMax, cpu, schedulerOwn, rows, peerLateness };
  };

  /** graphile-worker's side of one phase, on its own (separate mode): the same shape of deadlines as runAt jobs. */
  const peerPhase = async (tag: string, count: number, shape: (startMs: number) => Date[], patienceMs: number) => {
    const startMs = Date.now() + 30_000 + count / 10;
    const deadlines = shape(startMs);
    log(`[graphile-worker] adding ${count} runAt jobs due from ${new Date(startMs).toISOString()}…`);
    await addGraphileJobs(graphile!, deadlines, tag);
    if (Date.now() > startMs - 2_000) log('WARNING: adding graphile jobs ran into the first deadlines');
    await sleep(startMs - Date.now());
    const cpuBefore = cpuNow();
    const lastDeadlineMs = deadlines[deadlines.length - 1].getTime();
    await waitForAll(
      `graphile ${tag} jobs`,
      count,
      async () => (await graphileReport(peer!, tag)).lateness.length,
      lastDeadlineMs + patienceMs,
    );
    const cpu = cpuUsedSince(cpuBefore, cpuNow());
    return { startMs, cpu, peerLateness: await graphileReport(peer!, tag) };
  };

  const steadyCount = RATE * STEADY_SECONDS;
  const steadyShape = (startMs: number) => Array.from({ length: steadyCount }, (_, i) => new Date(startMs + (i * 1_000) / RATE));
  const burstShape = (startMs: number) => Array.from({ length: BURST }, (_, i) => new Date(startMs + (i * 1_000) / BURST));

  // 2. Steady: RATE deadlines per second for STEADY_SECONDS. 3. Burst: BURST deadlines within one second.
  const steady = await oursPhase('steady', steadyCount, steadyShape, 120_000);
  const burst = await oursPhase('burst', BURST, burstShape, 300_000);
  const steadyOurs = steady.rows;
  const burstOurs = burst.rows;
  const steadyRssMax = steady.rssMax;
  const burstRssMax = burst.rssMax;
  const steadyScheduler = steady.schedulerOwn;
  const burstScheduler = burst.schedulerOwn;
  const steadyCreate = steady.created;
  const burstCreate = burst.created;
  const burstStart = burst.startMs;
  let steadyCpu: Record<string, number> = steady.cpu;
  let burstCpu: Record<string, number> = burst.cpu;
  let steadyPeer = steady.peerLateness.lateness;
  let burstPeer = burst.peerLateness;
  let peerBurstStart = burst.startMs;
  if (WITH_GRAPHILE && !TOGETHER) {
    // The peer runs alone, after ours, with our services still up (idle): neither side's
    // measurement carries the other's load. `--together` fires both in the same seconds.
    peer = await startGraphilePeer();
    const peerSteady = await peerPhase('steady', steadyCount, steadyShape, 180_000);
    const peerBurst = await peerPhase('burst', BURST, burstShape, 600_000);
    steadyPeer = peerSteady.peerLateness.lateness;
    burstPeer = peerBurst.peerLateness;
    peerBurstStart = peerBurst.startMs;
    steadyCpu = { ...steadyCpu, ...prefixKeys('graphilePhase.', peerSteady.cpu) };
    burstCpu = { ...burstCpu, ...prefixKeys('graphilePhase.', peerBurst.cpu) };
  }
  const pendingAtEnd = Number((await db.query(`SELECT count(*) AS n FROM scheduler_timers`)).rows[0].n);

  // ---------------------------------------------------------------- report
  const ours = {
    steady: distribution(steadyOurs.map((r) => r.lateMs)),
    burst: distribution(burstOurs.map((r) => r.lateMs)),
    burstDrainSeconds: (Math.max(...burstOurs.map((r) => r.atMs)) - burstStart) / 1000,
  };
  const theirs = {
    steady: distribution(steadyPeer),
    burst: distribution(burstPeer.lateness),
    burstDrainSeconds: (burstPeer.lastStart - peerBurstStart) / 1000,
  };
  const drainRate = (count: number, seconds: number) => Math.round(count / Math.max(seconds, 1e-3));
  Object.assign(results, {
    finishedAt: new Date().toISOString(),
    creation: { tokensPerSecond: Math.round(createRate), steadySeconds: steadyCreate.seconds, burstSeconds: burstCreate.seconds },
    scheduler: {
      rssMb: {
        beforePending: Math.round(rssBefore),
        withPending: Math.round(rssWithPending),
        maxDuringSteady: Math.round(steadyRssMax),
        maxDuringBurst: Math.round(burstRssMax),
        maxOverall: Math.round(schedulerRss.stop()),
      },
      pendingTimersAtEnd: pendingAtEnd,
      /** The scheduler's own histogram: its fire time − deadline, before NATS and the token-service. */
      fireLatenessSteady: steadyScheduler,
      fireLatenessBurst: burstScheduler,
    },
    waitpoints: { ...ours, burstDrainRate: drainRate(ours.burst.count, ours.burstDrainSeconds) },
    graphileWorker: WITH_GRAPHILE ? { ...theirs, burstDrainRate: drainRate(theirs.burst.count, theirs.burstDrainSeconds) } : null,
    tokenServiceRssMb: Math.round(rssMb(tokenService.pid!)),
    /** CPU seconds per component while each phase fired (until our side was done). */
    cpuSeconds: { steady: steadyCpu, burst: burstCpu },
  });
  const file = join(RESULTS_DIR, `timeouts-${STAMP}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);

  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && a > 0 ? `${(b / a).toFixed(1)}×` : 'n/a');
  // NaN: no counterpart measured for graphile-worker (it runs inside the bench process).
  const row = (label: string, a: number, b: number, unit: string, r = ratio(a, b)) =>
    `| ${label.padEnd(40)} | ${`${a} ${unit}`.padStart(14)} | ${(WITH_GRAPHILE && !Number.isNaN(b) ? `${b} ${unit}` : '-').padStart(16)} | ${(WITH_GRAPHILE ? r : '-').padStart(8)} |`;
  const w = results.waitpoints as { burstDrainRate: number };
  const g = (results.graphileWorker as { burstDrainRate: number } | null) ?? { burstDrainRate: NaN };
  const rss = (results.scheduler as { rssMb: Record<string, number> }).rssMb;
  const table = `
Timeouts benchmark, scale ${SCALE}: ${PENDING.toLocaleString('en')} pending, ${RATE}/s × ${STEADY_SECONDS} s steady, ${BURST.toLocaleString('en')} in one second
lateness: ours = TIMED_OUT decision − deadline; graphile-worker ${WITH_GRAPHILE ? (results.peer as { version: string }).version : ''} (pollInterval 500 ms, concurrency 10, ${TOGETHER ? 'firing in the same seconds as ours' : 'in its own phases after ours, our services idle'}) = task start − run_at

| ${'measure'.padEnd(40)} | ${'waitpoints'.padStart(14)} | ${'graphile-worker'.padStart(16)} | ${'gw / wp'.padStart(8)} |
|${'-'.repeat(42)}|${'-'.repeat(16)}|${'-'.repeat(18)}|${'-'.repeat(10)}|
${row(`steady lateness p50 (n=${ours.steady.count})`, ours.steady.p50, theirs.steady.p50, 'ms')}
${row('steady lateness p99', ours.steady.p99, theirs.steady.p99, 'ms')}
${row('steady lateness max', ours.steady.max, theirs.steady.max, 'ms')}
${row(`burst drain rate (n=${ours.burst.count})`, w.burstDrainRate, g.burstDrainRate, '/s', ratio(g.burstDrainRate, w.burstDrainRate))}
${row('burst lateness p50', ours.burst.p50, theirs.burst.p50, 'ms')}
${row('burst lateness p99', ours.burst.p99, theirs.burst.p99, 'ms')}
${row('scheduler RSS with pending (max)', rss.maxOverall, NaN, 'MB', '')}

scheduler's own fire lateness (histogram bucket bounds): steady p50 ≤ ${steadyScheduler.p50AtMostMs} ms, p99 ≤ ${steadyScheduler.p99AtMostMs} ms; burst p50 ≤ ${burstScheduler.p50AtMostMs} ms, p99 ≤ ${burstScheduler.p99AtMostMs} ms
CPU seconds while firing: steady ${JSON.stringify(steadyCpu)}; burst ${JSON.stringify(burstCpu)}
not-yet-due retries: ${steadyScheduler.notDueRetries + burstScheduler.notDueRetries}; failed requests: ${steadyScheduler.fireFailures + burstScheduler.fireFailures}; token creation ~${Math.round(createRate)}/s

(drain rate ratio is ours / theirs; lateness ratios are theirs / ours)
`;
  writeFileSync(file.replace(/\.json$/, '.txt'), `${table.trim()}\n`);
  console.log(`${table}JSON: ${file}`);
}

async function cleanup(): Promise<void> {
  for (const close of closers) await close().catch(() => undefined);
  for (const child of children) child.kill('SIGTERM');
  await sleep(2_000);
  if (KEEP) return;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "waitpoints_${NAME}" WITH (FORCE)`).catch(() => undefined);
  await admin.end();
  const nc = await connect({ servers: NATS_URL });
  await (await nc.jetstreamManager()).streams.delete(eventStreamName(NAME)).catch(() => undefined);
  await nc.close();
}

main()
  .then(cleanup, async (error) => {
    console.error(error);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => process.exit());
