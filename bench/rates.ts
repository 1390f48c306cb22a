/**
 * npm run bench:rates -- [--rates=500,100,500,100] [--completions=1500]
 *
 * CPU per completion at a steady completion rate, per process of ours (gateway, token-service,
 * scheduler), PostgreSQL's backends of the system's database and nats-server (shared: counted
 * whole). For each rate in turn (the list interleaves them), the compiled services are started
 * fresh (bench/support.ts, with the scheduler), COMPLETIONS tokens are created, and then
 * completed over HTTP at that rate, open loop; CPU is read from /proc over the completions and
 * the 1.5 s after them (the outbox relay, the scheduler and the feeds finish their part). No
 * waiters: this is the cost of the write path and of the events' fan-out alone.
 *
 * Why: at a low rate every process wakes for every completion, and the same work costs more
 * CPU than at a high rate (bench/README, 2026-12-01). Results: bench/results/rates-<time>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { measureCpuListed, pidsNamed, postgresBackends } from './cpu';
import { createWaitingTokens, startBenchSystem } from './support';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key, value ?? 'true'] as const;
  }),
);
const RATES = (args.get('rates') ?? '500,100,500,100').split(',').map(Number);
const COMPLETIONS = Number(args.get('completions') ?? 1500);
if (RATES.some((rate) => !(rate > 0)) || !(COMPLETIONS > 0)) throw new Error('--rates and --completions must be positive numbers');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);

async function measureAt(rate: number) {
  const loadAverage = loadavg().map((value) => Math.round(value * 100) / 100);
  const system = await startBenchSystem({ port: 3930, scheduler: true });
  const admin = new Client({ connectionString: system.databaseUrl });
  await admin.connect();
  try {
    const headers = { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' };
    const tokens = `${system.baseUrl}/api/v1/waitpoints/tokens`;
    const ids = await createWaitingTokens(system, COMPLETIONS);
    await sleep(1500); // the creations' trailing work (outbox, scheduler) is not measured
    const database = new URL(system.databaseUrl).pathname.slice(1);
    const processes = async () => ({
      gateway: system.pids.gateway,
      tokenService: system.pids['token-service'],
      scheduler: system.pids.scheduler,
      postgres: await postgresBackends(admin, database),
      natsServer: pidsNamed('nats-server'),
    });
    let failed = 0;
    const { cpu } = await measureCpuListed(processes, async () => {
      const start = performance.now();
      const sent: Promise<void>[] = [];
      for (let i = 0; i < ids.length; i++) {
        await sleep(start + (i * 1000) / rate - performance.now());
        sent.push(
          fetch(`${tokens}/${ids[i]}/complete`, { method: 'POST', headers, body: '{"data":{"ok":true}}' }).then(
            async (response) => {
              await response.arrayBuffer();
              if (!response.ok) failed++;
            },
            () => void failed++,
          ),
        );
      }
      await Promise.all(sent);
      await sleep(1500);
    });
    const perCompletionMs = Object.fromEntries(Object.entries(cpu).map(([name, seconds]) => [name, round((seconds * 1000) / ids.length)]));
    const totalMs = round(Object.values(cpu).reduce((sum, seconds) => sum + seconds, 0) * (1000 / ids.length));
    return { rate, completions: ids.length, failed, loadAverage, perCompletionMs, totalMs };
  } finally {
    await admin.end();
    await system.stop();
  }
}

const round = (value: number) => Math.round(value * 1000) / 1000;

async function main() {
  const runs = [];
  for (const rate of RATES) {
    log(
      `${COMPLETIONS} completions at ${rate}/s (load average ${loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')})`,
    );
    const run = await measureAt(rate);
    log(`  CPU ms per completion: ${run.totalMs} (${JSON.stringify(run.perCompletionMs)}), ${run.failed} failed`);
    runs.push(run);
  }
  console.table(runs.map((run) => ({ rate: run.rate, 'CPU ms/completion': run.totalMs, ...run.perCompletionMs, failed: run.failed })));
  const directory = join(__dirname, 'results');
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `rates-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ benchmark: 'rates', at: new Date().toISOString(), completionsPerRun: COMPLETIONS, runs }, null, 2));
  log(`written ${file}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
