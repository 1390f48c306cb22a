/**
 * npm run bench:ab -- --before=<dist> [--after=dist] [--rate=200] [--completions=2000] [--rounds=3]
 *
 * Two builds side by side in one run: both systems run at once (each with its gateway,
 * token-service, scheduler and database, on the machine's PostgreSQL and NATS), and their
 * completions alternate one by one at `rate` per second each. Whatever else the machine does
 * meanwhile (it is shared and noisy) falls on both alike, so the ratio of their CPU per
 * completion carries where two runs one after the other do not (consecutive runs of the same
 * build here differed by up to 30 %).
 *
 * Per round: `completions` tokens created in each system (not measured), then completed over
 * HTTP; CPU per completion of each process from /proc over the completions and 1.5 s after,
 * and the complete request's latency. nats-server is shared by both: reported whole, not
 * attributed. The builds swap ports between rounds. Results in bench/results/ab-*.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { measureCpuListed, pidsNamed, postgresBackends } from './cpu';
import { BenchSystem, createWaitingTokens, startBenchSystem } from './support';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, ...value] = arg.replace(/^--/, '').split('=');
    return [key, value.join('=')] as const;
  }),
);
const known = new Set(['before', 'after', 'rate', 'completions', 'rounds']);
for (const key of args.keys()) if (!known.has(key)) throw new Error(`unknown option --${key} (known: ${[...known].join(', ')})`);
const BEFORE = args.get('before');
if (!BEFORE) throw new Error('--before=<dist directory of the build to compare against> is required');
const builds = { before: resolve(BEFORE), after: resolve(args.get('after') || 'dist') };
const RATE = Number(args.get('rate') ?? 200);
const COMPLETIONS = Number(args.get('completions') ?? 2000);
const ROUNDS = Number(args.get('rounds') ?? 3);
if (![RATE, COMPLETIONS, ROUNDS].every((value) => Number.isInteger(value) && value > 0)) {
  throw new Error('--rate, --completions and --rounds must be positive whole numbers');
}

type Build = keyof typeof builds;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, Math.max(0, ms)));
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
const round3 = (value: number) => Math.round(value * 1000) / 1000;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

interface Side {
  build: Build;
  system: BenchSystem;
  admin: Client;
  headers: Record<string, string>;
  tokens: string;
  ids: string[];
  latenciesMs: number[];
  failed: number;
}

async function startSide(build: Build, port: number): Promise<Side> {
  const system = await startBenchSystem({ port, scheduler: true, dist: builds[build] });
  const admin = new Client({ connectionString: system.databaseUrl });
  await admin.connect();
  const headers = { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' };
  return { build, system, admin, headers, tokens: `${system.baseUrl}/api/v1/waitpoints/tokens`, ids: [], latenciesMs: [], failed: 0 };
}

async function createTokens(side: Side): Promise<void> {
  side.ids = await createWaitingTokens(side.system, COMPLETIONS);
}

async function processesOf(side: Side): Promise<Record<string, number[]>> {
  const database = new URL(side.system.databaseUrl).pathname.slice(1);
  const { pids } = side.system;
  return {
    [`${side.build}.gateway`]: pids.gateway,
    [`${side.build}.tokenService`]: pids['token-service'],
    [`${side.build}.scheduler`]: pids.scheduler,
    [`${side.build}.postgres`]: await postgresBackends(side.admin, database),
  };
}

function complete(side: Side, id: string): Promise<void> {
  const sentAt = performance.now();
  return fetch(`${side.tokens}/${id}/complete`, { method: 'POST', headers: side.headers, body: '{"data":{"ok":true}}' }).then(
    async (response) => {
      await response.arrayBuffer();
      if (response.ok) side.latenciesMs.push(performance.now() - sentAt);
      else side.failed++;
    },
    () => void side.failed++,
  );
}

async function measureRound(index: number) {
  // Ports swap every round: neither build keeps the same place.
  const [first, second]: Build[] = index % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
  const sides = [await startSide(first, 3940), await startSide(second, 3941)];
  try {
    await Promise.all(sides.map(createTokens));
    await sleep(1500); // the creations' trailing work (outbox, scheduler) is not measured
    const loadAverage = loadavg()[0];
    const list = async () => ({ ...(await processesOf(sides[0])), ...(await processesOf(sides[1])), natsServer: pidsNamed('nats-server') });
    const { cpu } = await measureCpuListed(list, async () => {
      const start = performance.now();
      const sent: Promise<void>[] = [];
      // One completion of each build per tick, in turns: both see the same moments of the machine.
      for (let i = 0; i < COMPLETIONS; i++) {
        await sleep(start + (i * 1000) / RATE - performance.now());
        const [a, b] = i % 2 === 0 ? sides : [sides[1], sides[0]];
        sent.push(complete(a, a.ids[i]), complete(b, b.ids[i]));
      }
      await Promise.all(sent);
      await sleep(1500);
    });
    const perCompletion = (build: Build) => {
      const parts: Record<string, number> = Object.fromEntries(
        ['gateway', 'tokenService', 'scheduler', 'postgres'].map((part) => [part, round3((cpu[`${build}.${part}`] * 1000) / COMPLETIONS)]),
      );
      const side = sides.find((s) => s.build === build)!;
      const sorted = [...side.latenciesMs].sort((x, y) => x - y);
      return {
        cpuMsPerCompletion: { ...parts, sum: round3(Object.values(parts).reduce((sum, value) => sum + value, 0)) } as Record<
          string,
          number
        >,
        completeMs: { p50: round3(percentile(sorted, 50)), p99: round3(percentile(sorted, 99)) },
        failed: side.failed,
      };
    };
    return {
      loadAverage,
      before: perCompletion('before'),
      after: perCompletion('after'),
      natsServerMsPerCompletionBothBuilds: round3((cpu.natsServer * 1000) / (2 * COMPLETIONS)),
    };
  } finally {
    for (const side of sides) {
      await side.admin.end().catch(() => undefined);
      await side.system.stop();
    }
  }
}

async function main() {
  log(`before: ${builds.before}; after: ${builds.after}; ${COMPLETIONS} completions each per round at ${RATE}/s each, ${ROUNDS} rounds`);
  const rounds: Awaited<ReturnType<typeof measureRound>>[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    log(
      `round ${i + 1} (load average ${loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')})`,
    );
    const result = await measureRound(i);
    rounds.push(result);
    for (const build of ['before', 'after'] as const) {
      const { cpuMsPerCompletion, completeMs, failed } = result[build];
      log(
        `  ${build.padEnd(6)} CPU ms/completion ${JSON.stringify(cpuMsPerCompletion)}; complete p50 ${completeMs.p50} ms, p99 ${completeMs.p99} ms; ${failed} failed`,
      );
    }
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
  const parts = ['gateway', 'tokenService', 'scheduler', 'postgres', 'sum'] as const;
  console.table(
    parts.map((part) => {
      const ratios = rounds.map((r) => r.after.cpuMsPerCompletion[part] / r.before.cpuMsPerCompletion[part]);
      return {
        'CPU ms per completion': part,
        before: rounds.map((r) => r.before.cpuMsPerCompletion[part]).join(' / '),
        after: rounds.map((r) => r.after.cpuMsPerCompletion[part]).join(' / '),
        'after ÷ before (min, median)': `${round3(Math.min(...ratios))}, ${round3(median(ratios))}`,
      };
    }),
  );
  const directory = join(__dirname, 'results');
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `ab-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({ benchmark: 'ab', at: new Date().toISOString(), builds, rate: RATE, completions: COMPLETIONS, rounds }, null, 2),
  );
  log(`written ${file}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
