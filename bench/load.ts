import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Client, Pool } from 'pg';
import { ulid } from 'ulid';
import { parseDuration, tokenStreamId, TokenCreated, TokenCompleted } from '@waitpoints/contracts';
import { appendStatement } from '../apps/token-service/src/event-store/event-store';
import { TOKEN_VIEW_COLUMNS } from '../apps/token-service/src/projections/token-queries';
import { measureCpu, pidsNamed, PidsByComponent } from './cpu';
import { BenchSystem, startBenchSystem } from './support';

/**
 * `npm run bench`: the waitpoint API under load, through the gateway, with the services as
 * separate processes (HTTP → gateway → NATS → token-service → PostgreSQL), against the
 * ceiling: the same SQL sent straight to PostgreSQL from a pg pool at the same concurrency.
 *
 * Flags: --seconds 8 --warmup 2 --connections 32,128 --only create,create-sdk,complete,retrieve,list
 *        --token-services 1 --no-ceiling --label text
 */
/**
 * `create-sdk` is a create as both SDKs send it: with a fresh `x-trigger-request-idempotency-key`
 * header (recorded in waitpoint_request_keys, so a retry after a network error finds its token).
 */
type Scenario = 'create' | 'create-sdk' | 'complete' | 'retrieve' | 'list';
const SCENARIOS: Scenario[] = ['create', 'create-sdk', 'complete', 'retrieve', 'list'];

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const options = {
  seconds: Number(flag('seconds') ?? 8),
  warmupSeconds: Number(flag('warmup') ?? 2),
  connections: (flag('connections') ?? '32,128').split(',').map(Number),
  scenarios: (flag('only')?.split(',') as Scenario[] | undefined) ?? SCENARIOS,
  tokenServices: Number(flag('token-services') ?? process.env.BENCH_TOKEN_SERVICES ?? 1),
  ceiling: !process.argv.includes('--no-ceiling'),
  /** Direct-SQL pool size: the same for every level (128 pooled connections would exhaust a shared server). */
  ceilingPoolSize: Number(flag('ceiling-pool') ?? 32),
  label: flag('label') ?? '',
};

const TOKENS = '/api/v1/waitpoints/tokens';
const CREATE_BODY = JSON.stringify({ timeout: '1h', tags: ['bench'] });
const COMPLETE_BODY = JSON.stringify({ data: { approved: true, by: 'bench' } });

interface Measured {
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Non-2xx answers, connection errors and timeouts (through the gateway), failed queries (direct SQL). */
  failures: number;
  failureKinds?: { non2xx: number; errors: number; timeouts: number };
}

interface Row {
  scenario: Scenario;
  connections: number;
  system: Measured & { cpuMsPerRequest: Record<string, number>; machineLoad: number };
  ceiling?: Measured;
  ratio?: number;
}

/** Token ids handed from one phase to the next: created ones are completed, then retrieved. */
const waiting: string[] = [];
const finished: string[] = [];
const ceilingWaiting: string[] = [];
const ceilingFinished: string[] = [];
/** The last measured rates, to size the supply of waiting tokens for the next complete run. */
const lastRate: Partial<Record<Scenario, number>> = {};
const lastCeilingRate: Partial<Record<Scenario, number>> = {};

async function main() {
  const startedAt = Date.now();
  const system = await startBenchSystem({ tokenServices: options.tokenServices });
  const admin = new Client({ connectionString: system.databaseUrl });
  await admin.connect();
  const ceilingPool = new Pool({ connectionString: system.databaseUrl, max: options.ceilingPoolSize });
  const rows: Row[] = [];
  try {
    const components = async (): Promise<PidsByComponent> => {
      // Only the PostgreSQL backends serving our database: the server is shared.
      const { rows: backends } = await admin.query(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      return {
        gateway: system.pids.gateway,
        tokenService: system.pids['token-service'],
        postgres: backends.map((b) => b.pid),
        natsServer: pidsNamed('nats-server'),
        loadGenerator: [process.pid],
      };
    };
    for (const connections of options.connections) {
      for (const scenario of options.scenarios) {
        await topUpWaitingTokens(system, scenario, connections);
        await http(system, scenario, connections, options.warmupSeconds); // JIT, pools, prepared statements
        const pids = await components();
        const { result, cpu, machineLoad } = await measureCpu(pids, () => http(system, scenario, connections, options.seconds));
        const cpuMsPerRequest = Object.fromEntries(
          Object.entries(cpu).map(([k, seconds]) => [k, round((seconds * 1000) / Math.max(1, result.requests), 3)]),
        );
        lastRate[scenario] = result.requestsPerSecond;
        const row: Row = { scenario, connections, system: { ...result, cpuMsPerRequest, machineLoad: round(machineLoad, 2) } };
        if (options.ceiling) {
          await sql(ceilingPool, scenario, connections, options.warmupSeconds);
          row.ceiling = await sql(ceilingPool, scenario, connections, options.seconds);
          lastCeilingRate[scenario] = row.ceiling.requestsPerSecond;
          row.ratio = round(result.requestsPerSecond / row.ceiling.requestsPerSecond, 2);
        }
        rows.push(row);
        printRow(row);
      }
    }
  } finally {
    await ceilingPool.end();
    await admin.end();
    await system.stop();
  }
  report(rows, Math.round((Date.now() - startedAt) / 1000));
}

// ---------------------------------------------------------------- through the gateway

/** Tokens a retrieve run picks from when nothing was created or completed before it (`--only retrieve`). */
const TOKENS_TO_RETRIEVE = 1000;

async function topUpWaitingTokens(system: BenchSystem, scenario: Scenario, connections: number) {
  if (scenario === 'retrieve' && waiting.length + finished.length === 0) {
    await autocannon({ ...createRequest(system), connections: 64, amount: TOKENS_TO_RETRIEVE });
    return;
  }
  if (scenario !== 'complete') return;
  // Enough for a generous guess of the complete rate; creating more costs less than running dry.
  const needed =
    Math.round(1.5 * Math.max(lastRate.create ?? 0, lastRate.complete ?? 0, 1000) * (options.seconds + options.warmupSeconds)) +
    connections;
  if (waiting.length >= needed) return;
  await autocannon({ ...createRequest(system), connections: 64, amount: needed - waiting.length });
}

function authorized(system: BenchSystem) {
  return { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' };
}

function createRequest(system: BenchSystem, { requestKeys = false } = {}): autocannon.Options {
  return {
    url: system.baseUrl,
    requests: [
      {
        method: 'POST',
        path: TOKENS,
        headers: authorized(system),
        body: CREATE_BODY,
        ...(requestKeys && {
          setupRequest: (request: autocannon.Request) => ({
            ...request,
            headers: { ...request.headers, 'x-trigger-request-idempotency-key': randomUUID() },
          }),
        }),
        onResponse: (status: number, body: string) => {
          if (status === 200) waiting.push(JSON.parse(body).id);
        },
      },
    ],
  };
}

let reusedTokens = 0;

function requestFor(system: BenchSystem, scenario: Scenario): autocannon.Options {
  switch (scenario) {
    case 'create':
      return createRequest(system);
    case 'create-sdk':
      return createRequest(system, { requestKeys: true });
    case 'complete':
      return {
        url: system.baseUrl,
        requests: [
          {
            method: 'POST',
            headers: authorized(system),
            body: COMPLETE_BODY,
            setupRequest: (request) => {
              let id = waiting.pop();
              if (id === undefined) {
                // Ran dry: completing a finished token again is answered too, but cheaper; counted.
                reusedTokens++;
                id = finished[finished.length - 1];
              } else finished.push(id);
              return { ...request, path: `${TOKENS}/${id}/complete` };
            },
          },
        ],
      };
    case 'retrieve':
      return {
        url: system.baseUrl,
        requests: [
          {
            method: 'GET',
            headers: authorized(system),
            setupRequest: (request) => ({ ...request, path: `${TOKENS}/${pick(finished.length ? finished : waiting)}` }),
          },
        ],
      };
    case 'list':
      return {
        url: system.baseUrl,
        requests: [{ method: 'GET', path: `${TOKENS}?page[size]=25`, headers: authorized(system) }],
      };
  }
}

async function http(system: BenchSystem, scenario: Scenario, connections: number, seconds: number): Promise<Measured> {
  const result = await autocannon({ ...requestFor(system, scenario), connections, duration: seconds });
  return {
    requestsPerSecond: Math.round(result.requests.total / seconds),
    requests: result.requests.total,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    failures: result.non2xx + result.errors + result.timeouts,
    failureKinds: { non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts },
  };
}

// ---------------------------------------------------------------- the ceiling: straight to PostgreSQL

/**
 * The statements the token-service sends for one command of each kind, one command per
 * transaction, from `connections` concurrent callers sharing a pg pool. No HTTP, no NATS, no
 * batching, no decisions in JavaScript beyond building the rows.
 */
async function sql(pool: Pool, scenario: Scenario, connections: number, seconds: number): Promise<Measured> {
  const environment = 'dev';
  const metadata = { correlationId: 'bench', actor: { type: 'api_key' as const, id: environment } };
  const timeoutMs = parseDuration('1h')!;
  const createOnce = async (requestIdempotencyKey?: string) => {
    const now = new Date();
    const tokenId = ulid();
    const event: TokenCreated = {
      type: 'TokenCreated',
      data: {
        tokenId,
        environment,
        timeoutAt: new Date(now.getTime() + timeoutMs).toISOString(),
        tags: ['bench'],
        createdAt: now.toISOString(),
      },
    };
    if (requestIdempotencyKey !== undefined) event.data.requestIdempotencyKey = requestIdempotencyKey;
    await pool.query(appendStatement([{ streamId: tokenStreamId(tokenId), expectedVersion: 0, eventId: randomUUID(), event, metadata }]));
    ceilingWaiting.push(tokenId);
  };
  const once: Record<Scenario, () => Promise<unknown>> = {
    create: () => createOnce(),
    'create-sdk': () => createOnce(randomUUID()),
    complete: async () => {
      const tokenId = ceilingWaiting.pop();
      if (tokenId === undefined) throw new Error('the ceiling ran out of waiting tokens (create runs first)');
      const streamId = tokenStreamId(tokenId);
      const { rows } = await pool.query({
        name: 'bench-read-stream',
        text: `SELECT stream_version FROM es_events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`,
        values: [[streamId]],
      });
      const event: TokenCompleted = {
        type: 'TokenCompleted',
        data: {
          tokenId,
          environment,
          output: COMPLETE_BODY,
          outputType: 'application/json',
          channel: 'api',
          completedAt: new Date().toISOString(),
        },
      };
      const expectedVersion = rows[rows.length - 1].stream_version;
      await pool.query(appendStatement([{ streamId, expectedVersion, eventId: randomUUID(), event, metadata }]));
      ceilingFinished.push(tokenId);
    },
    retrieve: () =>
      pool.query(`SELECT ${TOKEN_VIEW_COLUMNS}, output FROM waitpoint_tokens WHERE id = $1 AND environment = $2`, [
        pick(ceilingFinished.length ? ceilingFinished : ceilingWaiting),
        environment,
      ]),
    list: () =>
      pool.query(`SELECT ${TOKEN_VIEW_COLUMNS} FROM waitpoint_tokens WHERE environment = $1 ORDER BY id DESC LIMIT $2`, [environment, 26]),
  };
  if (scenario === 'retrieve' && ceilingWaiting.length + ceilingFinished.length === 0) {
    // Tokens to read (`--only retrieve`): without them every SELECT would look up no id at all.
    await runFor(TOKENS_TO_RETRIEVE, connections, once.create);
  }
  if (scenario === 'complete') {
    // Waiting tokens to complete, made with the create statement outside the measurement.
    const needed = Math.round(1.5 * Math.max(lastCeilingRate.create ?? 0, lastCeilingRate.complete ?? 0, 2000) * seconds) + connections;
    if (ceilingWaiting.length < needed) await runFor(needed - ceilingWaiting.length, connections, once.create);
  }
  const latencies: number[] = [];
  let failures = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        const started = performance.now();
        try {
          await once[scenario]();
        } catch {
          failures++;
        }
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))], 1);
  return {
    requestsPerSecond: Math.round(latencies.length / seconds),
    requests: latencies.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: round(latencies[latencies.length - 1], 1),
    failures,
  };
}

async function runFor(count: number, concurrency: number, work: () => Promise<unknown>) {
  let left = count;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await work();
    }),
  );
}

// ---------------------------------------------------------------- output

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];
const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

function printRow(row: Row) {
  const s = row.system;
  const ceiling = row.ceiling ? ` | direct SQL ${row.ceiling.requestsPerSecond}/s p99 ${row.ceiling.p99Ms} ms → ratio ${row.ratio}` : '';
  const cpu = Object.entries(s.cpuMsPerRequest)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(
    `${row.scenario.padEnd(8)} c=${String(row.connections).padEnd(3)} ${s.requestsPerSecond}/s p50 ${s.p50Ms} ms p99 ${s.p99Ms} ms` +
      ` failures ${s.failures}${ceiling}\n         CPU ms/request: ${cpu} (load ${s.machineLoad})`,
  );
}

function report(rows: Row[], seconds: number) {
  const measuredAt = new Date().toISOString();
  const table = rows.map((r) => ({
    scenario: r.scenario,
    connections: r.connections,
    'req/s': r.system.requestsPerSecond,
    'p50 ms': r.system.p50Ms,
    'p99 ms': r.system.p99Ms,
    failures: r.system.failures,
    'direct SQL/s': r.ceiling?.requestsPerSecond ?? '-',
    ratio: r.ratio ?? '-',
  }));
  console.table(table);
  if (reusedTokens > 0) console.log(`note: ${reusedTokens} completes hit an already completed token (ran out of waiting ones)`);
  const result = {
    benchmark: 'load',
    /** Service settings that shape the figures (defaults unless set in the environment). */
    settings: Object.fromEntries(
      ['COMMAND_BATCH_SIZE', 'COMMAND_BATCHES_IN_FLIGHT', 'NATS_REQUEST_BATCH_SIZE', 'DATABASE_POOL_SIZE', 'BENCH_DIST'].map((k) => [
        k,
        process.env[k] ?? 'default',
      ]),
    ),
    label: options.label,
    measuredAt,
    durationSeconds: seconds,
    machine: { cpus: cpus().length, loadAverageAtEnd: loadavg().map((l) => round(l, 2)), node: process.version },
    options,
    reusedTokens,
    rows,
  };
  mkdirSync('bench/results', { recursive: true });
  const slug = options.label
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 40);
  const file = `bench/results/load-${measuredAt.replace(/[:.]/g, '-')}${slug ? `-${slug}` : ''}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`${file} (${seconds} s)`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
