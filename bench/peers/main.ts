/**
 * npm run bench:peers -- [--waits=1000] [--rate=100] [--seconds=20] [--clients=32] [--runs=3]
 *                        [--systems=ours,restate,dbos] [--scenario=A|B|both]
 *
 * Waiting for an external completion, side by side: ours (gateway + token-service + scheduler,
 * compiled, waiters on @waitpoints/sdk `wait.forToken`), Restate awakeables (restate-server
 * from its npm package + a Node SDK service endpoint) and DBOS (`DBOS.recv` in a workflow,
 * `DBOS.send` from a small HTTP endpoint in the DBOS app). For each system the waiting code
 * runs in one waiter process of its own and this driver completes the waits over the system's
 * external HTTP API, as an outside party would.
 *
 *   A  WAITS waits open; then completions at RATE/s, open loop (a completion does not wait for
 *      the one before). Per completion: sent → resumed (in the waiter process), the complete
 *      request itself, answered → resumed; CPU per process over the completion phase.
 *   B  CLIENTS concurrent clients in the waiter process open waits for SECONDS; then CLIENTS
 *      clients here complete all of them as fast as they are answered. Opens/s, completes/s,
 *      latency, failures, CPU per 1,000 operations.
 *
 * Each system is started fresh for each measurement and torn down after (processes killed,
 * databases dropped, JetStream streams deleted, temp dirs removed), also when a run fails;
 * every wait is bounded. Systems are interleaved (ours, restate, dbos, ours, …) RUNS times;
 * printed: min and median per metric over the runs and the ratio of each median to ours.
 * Results: bench/results/peers-<time>.json.
 *
 * GUARANTEES DIFFER (see GUARANTEES below): each system runs durable the way it documents, with
 * its defaults — ours on PostgreSQL + JetStream, Restate with its server's default (single-node)
 * durability, DBOS on PostgreSQL — but what a completion's answer promises, and what resuming
 * means, is not the same in the three. Read the figures with that in mind.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { measureCpuListed } from '../cpu';
import { Distribution, distribution, now, OpenReport, sleep, withTimeout } from './common';
import { PeerSystem, START, SYSTEM_NAMES, SystemName, versionOf } from './systems';

const GUARANTEES = [
  'Guarantees differ — each system runs durable the way it documents, untuned:',
  '  ours:    a complete is answered 200 once its event is committed to PostgreSQL (synchronous commit); the event',
  '           reaches the waiter through an outbox relay, JetStream (file storage) and the gateway’s SSE stream;',
  '           the waiter is a plain process holding an HTTP event stream (wait.forToken), not a durable function.',
  '  restate: one restate-server node, default configuration (its log and state on local disk, WAL fsync on);',
  '           resolve is answered 202 Accepted by the ingress; the waiter is a durable handler (journal, replay).',
  '  dbos:    workflow state and messages in PostgreSQL; our small endpoint answers 200 once DBOS.send has',
  '           committed the message; the waiter is a durable workflow (recv, woken by LISTEN/NOTIFY or polling).',
  '  "open" differs too — ours: token created and its event stream delivered the first state; restate:',
  '  invocation accepted and the awakeable id handed out from ctx.run; dbos: startWorkflow resolved.',
  '  CPU: PostgreSQL = the backends serving the system’s database (not WAL writer/checkpointer); nats-server is',
  '  shared with anything else on this machine and counted whole; the driver (completer) is never counted.',
].join('\n');

// ---------------------------------------------------------------- options

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, ...value] = arg.replace(/^--/, '').split('=');
    return [key, value.length ? value.join('=') : 'true'] as const;
  }),
);
const known = new Set(['waits', 'rate', 'seconds', 'clients', 'runs', 'systems', 'scenario']);
for (const key of args.keys()) if (!known.has(key)) throw new Error(`unknown option --${key} (known: ${[...known].join(', ')})`);

const positive = (name: string, fallback: number): number => {
  const value = Number(args.get(name) ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
};
const options = {
  waits: Math.round(positive('waits', 1000)),
  rate: positive('rate', 100),
  seconds: positive('seconds', 20),
  clients: Math.round(positive('clients', 32)),
  runs: Math.round(positive('runs', 3)),
  /** Always in the order ours, restate, dbos (interleaved in that order; ours first in the tables). */
  systems: (args.get('systems') ?? SYSTEM_NAMES.join(',')).split(',').map((s) => s.trim()) as SystemName[],
  scenarios: ((): Array<'A' | 'B'> => {
    const scenario = (args.get('scenario') ?? 'both').toUpperCase();
    if (scenario === 'BOTH') return ['A', 'B'];
    if (scenario === 'A' || scenario === 'B') return [scenario];
    throw new Error('--scenario must be A, B or both');
  })(),
};
for (const system of options.systems) {
  if (!SYSTEM_NAMES.includes(system)) throw new Error(`unknown system ${system} (known: ${SYSTEM_NAMES.join(', ')})`);
}
options.systems = SYSTEM_NAMES.filter((name) => options.systems.includes(name));

const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${message}`);
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

// ---------------------------------------------------------------- one measurement

interface CpuReport {
  /** CPU seconds per component over the phase. */
  seconds: Record<string, number>;
  /** Summed over the system's own components (the waiter process included where it is part of the system). */
  systemSeconds: number;
  /** Summed over every counted process, the waiter process included. */
  allSeconds: number;
}

interface ScenarioAResult {
  opened: number;
  openFailures: number;
  openPhaseMs: number;
  openMs: Distribution;
  completed: number;
  completeFailures: number;
  completeErrors: string[];
  notResumed: number;
  sentToResumedMs: Distribution;
  completeRequestMs: Distribution;
  answeredToResumedMs: Distribution;
  cpu: CpuReport;
  cpuMsPerCompletion: { system: number; all: number; byComponent: Record<string, number> };
}

interface ScenarioBResult {
  opened: number;
  openFailures: number;
  openErrors: string[];
  opensPerSecond: number;
  openMs: Distribution;
  completed: number;
  completeFailures: number;
  completeErrors: string[];
  notAttempted: number;
  notResumed: number;
  completesPerSecond: number;
  completeMs: Distribution;
  allResumedAfterMs: number;
  openCpu: CpuReport;
  completeCpu: CpuReport;
  cpuSecondsPer1000Opens: { system: number; all: number; byComponent: Record<string, number> };
  cpuSecondsPer1000Completes: { system: number; all: number; byComponent: Record<string, number> };
}

interface RunRecord {
  run: number;
  scenario: 'A' | 'B';
  system: SystemName;
  startedAt: string;
  loadAverageBefore: number[];
  loadAverageAfter?: number[];
  clock?: { offsetMs: number; uncertaintyMs: number };
  info?: Record<string, unknown>;
  result?: ScenarioAResult | ScenarioBResult;
  /** What a measurement that then failed (a process died) had measured. */
  failedResult?: ScenarioAResult | ScenarioBResult;
  /** Failed opens, completes or resumptions in a measurement that still counts. */
  problems?: string[];
  error?: string;
}

function cpuReport(system: PeerSystem, seconds: Record<string, number>): CpuReport {
  const sum = (names: string[]) =>
    round(
      names.reduce((total, name) => total + (seconds[name] ?? 0), 0),
      2,
    );
  return { seconds, systemSeconds: sum(system.systemComponents), allSeconds: sum(Object.keys(seconds)) };
}

function perOperation(cpu: CpuReport, operations: number, scale: number) {
  const per = (seconds: number) => (operations > 0 ? round((seconds * scale) / operations, 3) : NaN);
  return {
    system: per(cpu.systemSeconds),
    all: per(cpu.allSeconds),
    byComponent: Object.fromEntries(Object.entries(cpu.seconds).map(([name, seconds]) => [name, per(seconds)])),
  };
}

/** One wait opened, completed and resumed before measuring: the whole path works and is warm. */
async function warmUp(system: PeerSystem): Promise<void> {
  const deadline = Date.now() + 30_000;
  let opened: OpenReport | undefined;
  for (;;) {
    opened = await system.waiter.request({ type: 'open', clients: 1, count: 1 }, 'opened', 40_000);
    if (opened.ids.length === 1) break;
    // Restate's ingress may not know a just-registered service for a moment.
    if (Date.now() > deadline) throw new Error(`warm-up: could not open a wait: ${opened.errors.join('; ')}`);
    await sleep(500);
  }
  await system.complete(opened.ids[0], { warmUp: true });
  const resumed = await system.waiter.request({ type: 'awaitResumed', ids: opened.ids, timeoutMs: 30_000 }, 'resumed', 40_000);
  if (resumed.missing) throw new Error('warm-up: the completed wait did not resume within 30 s');
}

async function scenarioA(system: PeerSystem): Promise<ScenarioAResult> {
  log(`  opening ${options.waits} waits (${options.clients} clients in the waiter process)`);
  const opened = await system.waiter.request(
    { type: 'open', clients: options.clients, count: options.waits },
    'opened',
    Math.max(120_000, options.waits * 200),
  );
  if (opened.failures) log(`  ${opened.failures} opens failed, e.g. ${opened.errors[0]}`);
  log(`  ${opened.ids.length} waits open in ${Math.round(opened.elapsedMs)} ms; settling 1 s; completing at ${options.rate}/s`);
  await sleep(1000);
  const ids = opened.ids;
  const sentAt: number[] = new Array(ids.length).fill(NaN);
  const answeredAt: number[] = new Array(ids.length).fill(NaN);
  const completeErrors: string[] = [];
  let completeFailures = 0;
  const { result: resumed, cpu } = await measureCpuListed(
    () => system.processes(),
    async () => {
      const start = now();
      const requests: Promise<void>[] = [];
      for (let i = 0; i < ids.length; i++) {
        await sleep(start + (i * 1000) / options.rate - now());
        sentAt[i] = now();
        requests.push(
          system.complete(ids[i], { i }).then(
            () => void (answeredAt[i] = now()),
            (error) => {
              completeFailures++;
              if (completeErrors.length < 5) completeErrors.push(messageOf(error));
            },
          ),
        );
      }
      await Promise.all(requests);
      const completedIds = ids.filter((_, i) => Number.isFinite(answeredAt[i]));
      return system.waiter.request({ type: 'awaitResumed', ids: completedIds, timeoutMs: 60_000 }, 'resumed', 90_000);
    },
  );
  const resumedAt = new Map(resumed.resumedAt);
  const at = (i: number) => resumedAt.get(ids[i]) ?? NaN;
  const cpuReported = cpuReport(system, cpu);
  const completed = answeredAt.filter(Number.isFinite).length;
  return {
    opened: ids.length,
    openFailures: opened.failures,
    openPhaseMs: Math.round(opened.elapsedMs),
    openMs: distribution(opened.latenciesMs),
    completed,
    completeFailures,
    completeErrors,
    notResumed: resumed.missing,
    sentToResumedMs: distribution(ids.map((_, i) => at(i) - sentAt[i])),
    completeRequestMs: distribution(answeredAt.map((t, i) => t - sentAt[i])),
    answeredToResumedMs: distribution(ids.map((_, i) => at(i) - answeredAt[i])),
    cpu: cpuReported,
    cpuMsPerCompletion: perOperation(cpuReported, completed, 1000),
  };
}

async function scenarioB(system: PeerSystem): Promise<ScenarioBResult> {
  log(`  ${options.clients} clients open waits for ${options.seconds} s`);
  const { result: opened, cpu: openCpu } = await measureCpuListed(
    () => system.processes(),
    async () => {
      const report = await system.waiter.request(
        { type: 'open', clients: options.clients, seconds: options.seconds },
        'opened',
        options.seconds * 1000 + 90_000,
      );
      // The last opens' trailing work (a workflow reaching recv, the scheduler learning deadlines) counts too.
      await sleep(1000);
      return report;
    },
  );
  const ids = opened.ids;
  log(`  ${ids.length} waits opened (${opened.failures} failures); ${options.clients} clients complete them`);
  const completeLatencies: number[] = [];
  const completeErrors: string[] = [];
  const completedIds: string[] = [];
  let completeFailures = 0;
  let next = 0;
  const completePhaseLimitMs = Math.max(120_000, options.seconds * 10_000);
  const { result: completion, cpu: completeCpu } = await measureCpuListed(
    () => system.processes(),
    async () => {
      const start = now();
      const deadline = start + completePhaseLimitMs;
      await Promise.all(
        Array.from({ length: options.clients }, async () => {
          while (next < ids.length && now() < deadline) {
            const i = next++;
            const sent = now();
            try {
              await system.complete(ids[i], { i });
              completeLatencies.push(now() - sent);
              completedIds.push(ids[i]);
            } catch (error) {
              completeFailures++;
              if (completeErrors.length < 5) completeErrors.push(messageOf(error));
            }
          }
        }),
      );
      const elapsedMs = now() - start;
      const resumed = await system.waiter.request({ type: 'awaitResumed', ids: completedIds, timeoutMs: 60_000 }, 'resumed', 90_000);
      const lastResumed = Math.max(start, ...resumed.resumedAt.map(([, t]) => t));
      return { elapsedMs, resumed, allResumedAfterMs: lastResumed - start };
    },
  );
  const openReport = cpuReport(system, openCpu);
  const completeReport = cpuReport(system, completeCpu);
  return {
    opened: ids.length,
    openFailures: opened.failures,
    openErrors: opened.errors,
    opensPerSecond: round(ids.length / (opened.elapsedMs / 1000)),
    openMs: distribution(opened.latenciesMs),
    completed: completedIds.length,
    completeFailures,
    completeErrors,
    notAttempted: ids.length - Math.min(next, ids.length),
    notResumed: completion.resumed.missing,
    completesPerSecond: round(completedIds.length / (completion.elapsedMs / 1000)),
    completeMs: distribution(completeLatencies),
    allResumedAfterMs: Math.round(completion.allResumedAfterMs),
    openCpu: openReport,
    completeCpu: completeReport,
    cpuSecondsPer1000Opens: perOperation(openReport, ids.length, 1000),
    cpuSecondsPer1000Completes: perOperation(completeReport, completedIds.length, 1000),
  };
}

// ---------------------------------------------------------------- runs, teardown

function isAlive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** What a reader of the figures must know about a measurement that did not fail outright. */
function problemsOf(record: RunRecord): string[] {
  const problems: string[] = [];
  if (!record.result) return problems;
  const r = record.result as Partial<ScenarioAResult & ScenarioBResult>;
  if (r.openFailures) problems.push(`${r.openFailures} opens failed`);
  if (r.openErrors?.length) problems.push(`open errors: ${r.openErrors.join(' | ')}`);
  if (r.completeFailures) problems.push(`${r.completeFailures} complete requests failed: ${r.completeErrors!.join(' | ')}`);
  if (r.notAttempted) problems.push(`${r.notAttempted} waits not completed within the phase's time limit`);
  if (r.notResumed) problems.push(`${r.notResumed} completed waits did not resume within 60 s`);
  return problems;
}

/** The stop of every system started and not yet stopped (half-started ones included). */
const running = new Set<() => Promise<void>>();
let stopping = false;

async function measure(record: RunRecord, abandoned: AbortSignal): Promise<void> {
  log(`  starting ${record.system}`);
  let stop: (() => Promise<void>) | undefined;
  const system = await START[record.system]((stopIt) => running.add((stop = stopIt)));
  try {
    // Past its time limit the main loop has moved on: this one must not go on in the background.
    abandoned.throwIfAborted();
    record.info = system.info;
    record.clock = await system.waiter.clockOffset();
    if (Math.abs(record.clock.offsetMs) > 2)
      log(`  WARNING: waiter clock offset ${record.clock.offsetMs} ms (±${record.clock.uncertaintyMs})`);
    await warmUp(system);
    abandoned.throwIfAborted();
    record.result = record.scenario === 'A' ? await scenarioA(system) : await scenarioB(system);
    // A process of the system that died meanwhile makes the figures meaningless (its CPU is lost too).
    const processes = await system.processes();
    const dead = Object.entries(processes)
      .filter(([name]) => name !== 'postgres' && name !== 'natsServer')
      .flatMap(([name, pids]) => pids.filter((pid) => !isAlive(pid)).map(() => name));
    if (dead.length) throw new Error(`${dead.join(', ')} exited during the measurement`);
  } finally {
    log(`  stopping ${record.system}`);
    await system.stop();
    running.delete(stop!);
  }
}

/** Generous bound on one measurement, start and teardown included, so a stuck system cannot hang the bench. */
function measurementLimitMs(scenario: 'A' | 'B'): number {
  const startAndStop = 240_000;
  if (scenario === 'A') return startAndStop + Math.max(120_000, options.waits * 200) + (options.waits / options.rate) * 1000 + 90_000;
  return startAndStop + options.seconds * 1000 + 90_000 + Math.max(120_000, options.seconds * 10_000) + 90_000;
}

async function stopEverything(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.error(`\n${signal}: tearing down ${running.size} running system(s)`);
  await Promise.all([...running].map((stop) => withTimeout(stop(), 60_000, 'stopping a system').catch(() => undefined)));
  process.exit(130);
}
process.on('SIGINT', () => void stopEverything('SIGINT'));
process.on('SIGTERM', () => void stopEverything('SIGTERM'));

function oneLine(record: RunRecord): string {
  if (record.error) return `  FAILED: ${record.error}`;
  if (record.scenario === 'A') {
    const r = record.result as ScenarioAResult;
    return (
      `  sent→resumed p50 ${r.sentToResumedMs.p50} p99 ${r.sentToResumedMs.p99} ms; complete request p50 ${r.completeRequestMs.p50} ms; ` +
      `CPU ${r.cpuMsPerCompletion.system} ms/completion (${r.cpuMsPerCompletion.all} with the waiter process); ` +
      `failures ${r.completeFailures}, not resumed ${r.notResumed}`
    );
  }
  const r = record.result as ScenarioBResult;
  return (
    `  opens ${r.opensPerSecond}/s (p99 ${r.openMs.p99} ms), completes ${r.completesPerSecond}/s (p99 ${r.completeMs.p99} ms); ` +
    `failures ${r.openFailures}+${r.completeFailures}, not resumed ${r.notResumed}`
  );
}

// ---------------------------------------------------------------- summary

type Metric = { name: string; pick: (result: never) => number };
const metricsA: Metric[] = [
  ...(['p50', 'p90', 'p99', 'max'] as const).map((q) => ({
    name: `sent→resumed ${q} ms`,
    pick: (r: ScenarioAResult) => r.sentToResumedMs[q],
  })),
  ...(['p50', 'p90', 'p99', 'max'] as const).map((q) => ({
    name: `complete request ${q} ms`,
    pick: (r: ScenarioAResult) => r.completeRequestMs[q],
  })),
  ...(['p50', 'p90', 'p99', 'max'] as const).map((q) => ({
    name: `answered→resumed ${q} ms`,
    pick: (r: ScenarioAResult) => r.answeredToResumedMs[q],
  })),
  { name: 'CPU ms / completion (system)', pick: (r: ScenarioAResult) => r.cpuMsPerCompletion.system },
  { name: 'CPU ms / completion (+ waiter proc.)', pick: (r: ScenarioAResult) => r.cpuMsPerCompletion.all },
  { name: 'open N waits, s', pick: (r: ScenarioAResult) => r.openPhaseMs / 1000 },
  { name: 'complete failures', pick: (r: ScenarioAResult) => r.completeFailures },
  { name: 'not resumed', pick: (r: ScenarioAResult) => r.notResumed },
] as Metric[];
const metricsB: Metric[] = [
  { name: 'opens/s', pick: (r: ScenarioBResult) => r.opensPerSecond },
  { name: 'open p50 ms', pick: (r: ScenarioBResult) => r.openMs.p50 },
  { name: 'open p99 ms', pick: (r: ScenarioBResult) => r.openMs.p99 },
  { name: 'open failures', pick: (r: ScenarioBResult) => r.openFailures },
  { name: 'completes/s', pick: (r: ScenarioBResult) => r.completesPerSecond },
  { name: 'complete p50 ms', pick: (r: ScenarioBResult) => r.completeMs.p50 },
  { name: 'complete p99 ms', pick: (r: ScenarioBResult) => r.completeMs.p99 },
  { name: 'complete failures', pick: (r: ScenarioBResult) => r.completeFailures + r.notAttempted },
  { name: 'not resumed', pick: (r: ScenarioBResult) => r.notResumed },
  { name: 'all resumed after, s', pick: (r: ScenarioBResult) => r.allResumedAfterMs / 1000 },
  { name: 'CPU s / 1k opens (system)', pick: (r: ScenarioBResult) => r.cpuSecondsPer1000Opens.system },
  { name: 'CPU s / 1k opens (+ waiter proc.)', pick: (r: ScenarioBResult) => r.cpuSecondsPer1000Opens.all },
  { name: 'CPU s / 1k completes (system)', pick: (r: ScenarioBResult) => r.cpuSecondsPer1000Completes.system },
  { name: 'CPU s / 1k completes (+ waiter proc.)', pick: (r: ScenarioBResult) => r.cpuSecondsPer1000Completes.all },
] as Metric[];

const median = (values: number[]) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const minimum = (values: number[]) => {
  const finite = values.filter(Number.isFinite);
  return finite.length ? Math.min(...finite) : NaN;
};
const show = (value: number) => (Number.isFinite(value) ? String(round(value, Math.abs(value) < 10 ? 2 : 1)) : '-');

function summarize(records: RunRecord[]) {
  const summary: Record<string, Record<string, Record<string, { min: number; median: number; ratioToOurs?: number; runs: number }>>> = {};
  const tables: string[] = [];
  for (const scenario of options.scenarios) {
    const metrics = scenario === 'A' ? metricsA : metricsB;
    summary[scenario] = {};
    const header = [
      'metric',
      ...options.systems.map((s) => `${s} median (min)${s === 'ours' || !options.systems.includes('ours') ? '' : ' ×ours'}`),
    ];
    const rows: string[][] = [];
    for (const metric of metrics) {
      const cells = [metric.name];
      const oursMedian = median(
        records.filter((r) => r.scenario === scenario && r.system === 'ours' && r.result).map((r) => metric.pick(r.result as never)),
      );
      for (const system of options.systems) {
        const values = records
          .filter((r) => r.scenario === scenario && r.system === system && r.result)
          .map((r) => metric.pick(r.result as never));
        const entry = { min: minimum(values), median: median(values), runs: values.length } as {
          min: number;
          median: number;
          ratioToOurs?: number;
          runs: number;
        };
        if (system !== 'ours' && Number.isFinite(oursMedian) && oursMedian !== 0) entry.ratioToOurs = round(entry.median / oursMedian, 2);
        (summary[scenario][system] ??= {})[metric.name] = entry;
        cells.push(
          values.length === 0
            ? 'failed'
            : `${show(entry.median)} (${show(entry.min)})${entry.ratioToOurs !== undefined && Number.isFinite(entry.ratioToOurs) ? ` ×${entry.ratioToOurs}` : ''}`,
        );
      }
      rows.push(cells);
    }
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const line = (cells: string[]) =>
      `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
    const title =
      scenario === 'A'
        ? `Scenario A: ${options.waits} waits open, completions at ${options.rate}/s (open loop)`
        : `Scenario B: ${options.clients} clients open waits for ${options.seconds} s, then ${options.clients} clients complete them`;
    const runsDone = options.systems
      .map((s) => `${s} ${records.filter((r) => r.scenario === scenario && r.system === s && r.result).length}/${options.runs}`)
      .join(', ');
    tables.push(
      [
        `${title}; median (min) over runs [${runsDone}], ×ours = median ÷ ours' median`,
        '',
        line(header),
        `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
        ...rows.map(line),
      ].join('\n'),
    );
    tables.push(componentTable(records, scenario));
  }
  return { summary, tables };
}

/** Median CPU per component: ms per completion (A), s per 1,000 completes and opens (B). */
function componentTable(records: RunRecord[], scenario: 'A' | 'B'): string {
  const lines: string[] = [];
  const perSystem = (system: SystemName, pick: (r: never) => Record<string, number>) => {
    const results = records.filter((r) => r.scenario === scenario && r.system === system && r.result).map((r) => pick(r.result as never));
    const names = [...new Set(results.flatMap((r) => Object.keys(r)))];
    return names.map((name) => `${name} ${show(median(results.map((r) => r[name] ?? NaN)))}`).join(', ');
  };
  for (const system of options.systems) {
    if (scenario === 'A') {
      lines.push(
        `  ${system.padEnd(8)} CPU ms/completion by process: ${perSystem(system, (r: ScenarioAResult) => r.cpuMsPerCompletion.byComponent)}`,
      );
    } else {
      lines.push(
        `  ${system.padEnd(8)} CPU s/1k opens by process:     ${perSystem(system, (r: ScenarioBResult) => r.cpuSecondsPer1000Opens.byComponent)}`,
      );
      lines.push(
        `  ${''.padEnd(8)} CPU s/1k completes by process: ${perSystem(system, (r: ScenarioBResult) => r.cpuSecondsPer1000Completes.byComponent)}`,
      );
    }
  }
  return `Per process (medians; "waiter" is the waiter process: for restate the service endpoint, for dbos the DBOS app):\n${lines.join('\n')}`;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const startedAt = new Date();
  const versions = {
    node: process.version,
    restateServer: versionOf('@restatedev/restate-server'),
    restateSdk: versionOf('@restatedev/restate-sdk'),
    dbosSdk: versionOf('@dbos-inc/dbos-sdk'),
  };
  console.log(GUARANTEES);
  console.log(
    `\noptions: ${JSON.stringify(options)}; versions: ${JSON.stringify(versions)}; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})\n`,
  );
  const records: RunRecord[] = [];
  for (let run = 1; run <= options.runs; run++) {
    for (const scenario of options.scenarios) {
      for (const system of options.systems) {
        const load = loadavg().map((v) => round(v, 2));
        log(`run ${run}/${options.runs}, scenario ${scenario}, ${system}: load average ${load.join(' ')} (${cpus().length} CPUs)`);
        if (load[0] > cpus().length * 0.75) log(`  NOTE: the machine is busy (1-min load ${load[0]}); figures will be noisy`);
        const record: RunRecord = { run, scenario, system, startedAt: new Date().toISOString(), loadAverageBefore: load };
        const abandon = new AbortController();
        try {
          await withTimeout(measure(record, abandon.signal), measurementLimitMs(scenario), `run ${run} ${scenario} ${system}`);
        } catch (error) {
          record.error = messageOf(error);
          // Figures of a failed measurement stay in the JSON, out of the tables.
          if (record.result) {
            record.failedResult = record.result;
            delete record.result;
          }
          abandon.abort(error);
          // A timed-out measurement may still hold its system: stop it before the next one.
          await Promise.all([...running].map((stop) => withTimeout(stop(), 60_000, 'stopping a system').catch(() => undefined)));
          running.clear();
        }
        record.loadAverageAfter = loadavg().map((v) => round(v, 2));
        record.problems = problemsOf(record);
        records.push(record);
        console.log(oneLine(record));
        if (record.problems.length) console.log(`  PROBLEMS: ${record.problems.join('; ')}`);
        await sleep(2000);
      }
    }
  }
  const { summary, tables } = summarize(records);
  console.log(`\n${GUARANTEES}\n`);
  for (const table of tables) console.log(`${table}\n`);
  const failed = records.filter((r) => r.error);
  if (failed.length) {
    console.log('Failed measurements (left out of the tables):');
    for (const r of failed) console.log(`  run ${r.run} ${r.scenario} ${r.system}: ${r.error}`);
  }
  const withProblems = records.filter((r) => r.problems?.length);
  if (withProblems.length) {
    console.log('Measurements with failures (in the tables, with these counts):');
    for (const r of withProblems) console.log(`  run ${r.run} ${r.scenario} ${r.system}: ${r.problems!.join('; ')}`);
  }
  const result = {
    benchmark: 'peers',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options,
    versions,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAverageAtEnd: loadavg().map((v) => round(v, 2)) },
    guarantees: GUARANTEES,
    clock:
      'performance.timeOrigin + performance.now() in every process (wall clock, sub-ms); per-run offset of the waiter process in runs[].clock',
    summary,
    runs: records,
  };
  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `peers-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`results: ${file}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
