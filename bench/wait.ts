/**
 * npm run bench:wait -- [--waiters=1000] [--rate=100] [--port=3910]
 *
 * Completion → `wait.forToken` resolved, with WAITERS concurrent waiters. Boots the compiled
 * token-service and gateway as separate processes (fresh database and subject prefix), creates
 * WAITERS tokens, starts one `forToken` per token with our SDK (one event stream each, all
 * served by the gateway's single JetStream consumer), waits until every stream has delivered
 * its first state, then completes the tokens through the API at RATE per second (open loop:
 * a completion does not wait for the previous one) and times each waiter:
 *
 *   committed → resolved:  from the complete request's 200 (the completion is committed) to
 *                          the moment forToken resolved in this process (outbox relay →
 *                          JetStream → gateway → SSE → SDK);
 *   sent → resolved:       from sending the complete request, so it also includes the request.
 *
 * Also measured: CPU seconds of each of our processes (gateway, token-service, scheduler, the
 * bench database's PostgreSQL backends, and nats-server, which other users of the machine share) while idle (--idle seconds, before any token exists) and during the completions, and
 * what PostgreSQL did per completion (transactions; sequential and index scans of the hot tables,
 * from pg_stat_database and pg_stat_user_tables).
 *
 * Results: a table on stdout and JSON in bench/results/wait-<time>.json, with the machine's
 * load average, since the figures depend on it.
 */
import { cpus, loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';
import { WaitpointsClient } from '@waitpoints/sdk';
import { eventStreamName } from '@waitpoints/contracts';
import { outputsBucketName, uploadsBucketName } from '@waitpoints/contracts/nats/output-store';
import { Client } from 'pg';
import { measureCpu, PidsByComponent, pidsNamed } from './cpu';
import { startBenchSystem } from './support';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key, value ?? 'true'] as const;
  }),
);
const WAITERS = Number(args.get('waiters') ?? 1000);
const RATE = Number(args.get('rate') ?? 100);
const PORT = Number(args.get('port') ?? 3910);
const IDLE_SECONDS = Number(args.get('idle') ?? 10);
const CREATE_CONCURRENCY = 32;
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${message}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  const round = (v: number) => Math.round(v * 10) / 10;
  return { p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]), min: round(sorted[0]) };
}

async function main() {
  const loadBefore = loadavg();
  log(`starting token-service and gateway (compiled, separate processes) on port ${PORT}`);
  const system = await startBenchSystem({ port: PORT, scheduler: true });
  const prefix = new URL(system.databaseUrl).pathname.replace('/waitpoints_', '');
  const stats = new Client({ connectionString: system.databaseUrl });
  await stats.connect();
  const components = async (): Promise<PidsByComponent> => {
    const { rows } = await stats.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
    return { ...system.pids, 'postgres backends': rows.map((row) => Number(row.pid)), 'nats-server (shared)': pidsNamed('nats-server') };
  };
  const pgCounters = async () => {
    await sleep(1_200); // PostgreSQL publishes a backend's counters within a second of its transaction
    const { rows: tables } = await stats.query(
      `SELECT relname, seq_scan::int, idx_scan::int FROM pg_stat_user_tables WHERE relname IN ('waitpoint_tokens', 'es_events', 'es_checkpoints', 'waitpoint_request_keys')`,
    );
    const { rows: db } = await stats.query(
      `SELECT xact_commit::int + xact_rollback::int AS transactions FROM pg_stat_database WHERE datname = current_database()`,
    );
    const byTable: Record<string, { seqScans: number; indexScans: number }> = Object.fromEntries(
      tables.map((t) => [t.relname, { seqScans: t.seq_scan, indexScans: t.idx_scan ?? 0 }]),
    );
    return { tables: byTable, transactions: Number(db[0].transactions) - 1 };
  };
  try {
    const client = new WaitpointsClient({ baseURL: system.baseUrl, secretKey: system.apiKey });
    log(`idle for ${IDLE_SECONDS} s`);
    const idle = await measureCpu(await components(), () => sleep(IDLE_SECONDS * 1000));

    log(`creating ${WAITERS} tokens`);
    const ids: string[] = new Array(WAITERS);
    let next = 0;
    await Promise.all(
      Array.from({ length: CREATE_CONCURRENCY }, async () => {
        while (next < WAITERS) {
          const i = next++;
          ids[i] = (await client.createToken({ timeout: '1h', tags: ['bench'] })).id;
        }
      }),
    );

    log(`starting ${WAITERS} waiters`);
    const subscribedAt = performance.now();
    let subscribed = 0;
    let allSubscribed!: () => void;
    const everyoneSubscribed = new Promise<void>((resolve) => (allSubscribed = resolve));
    const resolvedAt: number[] = new Array(WAITERS);
    const waits = ids.map((id, i) =>
      client
        .forToken<number>(id, {
          onState: () => {
            if (++subscribed === WAITERS) allSubscribed();
          },
        })
        .unwrap()
        .then((output) => {
          resolvedAt[i] = performance.now();
          if (output !== i) throw new Error(`waiter ${i} got output ${output}`);
        }),
    );
    await everyoneSubscribed;
    const subscribeMs = performance.now() - subscribedAt;
    log(`all ${WAITERS} event streams delivered their first state in ${Math.round(subscribeMs)} ms; settling 1 s`);
    await sleep(1000);

    log(`completing at ${RATE}/s`);
    const sentAt: number[] = new Array(WAITERS);
    const committedAt: number[] = new Array(WAITERS);
    const countersBefore = await pgCounters();
    const busy = await measureCpu(await components(), async () => {
      const start = performance.now();
      const completions: Promise<void>[] = [];
      for (let i = 0; i < WAITERS; i++) {
        await sleep(start + (i * 1000) / RATE - performance.now());
        sentAt[i] = performance.now();
        completions.push(client.completeToken(ids[i], i).then(() => void (committedAt[i] = performance.now())));
      }
      await Promise.all(completions);
      await Promise.all(waits);
      await sleep(500); // the outbox relay, the scheduler and the feeds finish their part
    });
    const countersAfter = await pgCounters();
    const perCompletion = (a: number, b: number) => Math.round(((b - a) / WAITERS) * 100) / 100;
    const database = {
      transactionsPerCompletion: perCompletion(countersBefore.transactions, countersAfter.transactions),
      scansDuringCompletions: Object.fromEntries(
        Object.entries(countersAfter.tables).map(([table, after]) => {
          const before = countersBefore.tables[table] ?? { seqScans: 0, indexScans: 0 };
          return [table, { seqScans: after.seqScans - before.seqScans, indexScans: after.indexScans - before.indexScans }];
        }),
      ),
    };
    const cpuMsPerCompletion = Object.fromEntries(
      Object.entries(busy.cpu).map(([name, seconds]) => [name, Math.round((seconds * 1e6) / WAITERS) / 1000]),
    );

    const committedToResolved = resolvedAt.map((t, i) => t - committedAt[i]);
    const sentToResolved = resolvedAt.map((t, i) => t - sentAt[i]);
    const completeRequest = committedAt.map((t, i) => t - sentAt[i]);
    const loadAfter = loadavg();
    const result = {
      benchmark: 'wait',
      at: new Date().toISOString(),
      waiters: WAITERS,
      completionRatePerSecond: RATE,
      conditions: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        loadAverageBefore: loadBefore.map((v) => Math.round(v * 100) / 100),
        loadAverageAfter: loadAfter.map((v) => Math.round(v * 100) / 100),
        node: process.version,
        note: 'token-service and gateway as separate processes; PostgreSQL, NATS and this load generator on the same host',
      },
      subscribeAllMs: Math.round(subscribeMs),
      committedToResolvedMs: percentiles(committedToResolved),
      sentToResolvedMs: percentiles(sentToResolved),
      completeRequestMs: percentiles(completeRequest),
      idleCpuSecondsPer10s: Object.fromEntries(
        Object.entries(idle.cpu).map(([name, seconds]) => [name, Math.round((seconds * 1000 * 10) / IDLE_SECONDS) / 1000]),
      ),
      cpuMsPerCompletion,
      database,
    };
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    const file = join(__dirname, 'results', `wait-${result.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

    const row = (name: string, p: ReturnType<typeof percentiles>) =>
      `| ${name.padEnd(34)} | ${String(p.p50).padStart(7)} | ${String(p.p90).padStart(7)} | ${String(p.p99).padStart(7)} | ${String(p.max).padStart(7)} |`;
    console.log(
      `\n${WAITERS} concurrent waiters, completions at ${RATE}/s; load average ${loadBefore.map((v) => v.toFixed(2)).join(' ')} before, ${loadAfter.map((v) => v.toFixed(2)).join(' ')} after (${cpus().length} CPUs)\n`,
    );
    console.log('| ms                                 |     p50 |     p90 |     p99 |     max |');
    console.log('|------------------------------------|---------|---------|---------|---------|');
    console.log(row('completion committed → resolved', result.committedToResolvedMs));
    console.log(row('complete sent → resolved', result.sentToResolvedMs));
    console.log(row('complete request (for reference)', result.completeRequestMs));
    console.log(`\nCPU ms per completion (all work during the completions / ${WAITERS}): ${JSON.stringify(cpuMsPerCompletion)}`);
    console.log(`idle CPU s per 10 s (before any token): ${JSON.stringify(result.idleCpuSecondsPer10s)}`);
    console.log(
      `PostgreSQL per completion: ${database.transactionsPerCompletion} transactions; scans during the completions: ${JSON.stringify(database.scansDuringCompletions)}`,
    );
    console.log(`\nresults: ${file}`);
  } finally {
    await stats.end();
    await system.stop();
    const nc = await connect({ servers: NATS_URL });
    const jsm = await nc.jetstreamManager();
    for (const stream of [eventStreamName(prefix), `OBJ_${uploadsBucketName(prefix)}`, `OBJ_${outputsBucketName(prefix)}`]) {
      await jsm.streams.delete(stream).catch(() => undefined);
    }
    await nc.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
