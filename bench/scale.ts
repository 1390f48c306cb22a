/**
 * npm run bench:scale -- [--tokens=10000000] [--small=10000] [--clients=8] [--seconds=5] [--port=3920]
 *
 * Do reads stay fast as the table grows? Runs the same measurements at two sizes in one run:
 * for each size, a fresh database is migrated and seeded with that many tokens straight in the
 * service's event and projection format (bench/scale-seed.ts), the compiled services are started
 * over it (the outbox checkpoint is moved past the seeded events: they are history, not news),
 * and every request below is sent through the gateway by CLIENTS concurrent loops for SECONDS:
 *
 *   create, complete, retrieve (a random seeded token), list (no filter, each status, a common
 *   tag, a rare tag, period=1h, the 20th page), and the dashboard overview (frag/overview:
 *   qry.token.stats plus the scheduler's lateness).
 *
 * Also: service start time over the seeded database (until the gateway answers a list), the
 * seeding time, and disk per million tokens (pg_total_relation_size: table + indexes + TOAST)
 * of the event store and of the projection, apart.
 *
 * Results: a table (p50/p99 per request at both sizes and the ratio of the p99s) and JSON in
 * bench/results/scale-<time>.json. Needs PostgreSQL and NATS (see support.ts), and disk: about
 * 1.2 GB per million tokens.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Client } from 'pg';
import { COMMON_TAGS, rareTag } from './scale-seed';
import { seededDatabase } from './seeded-database';
import { BenchSystem, benchSystemName, deleteJetStreamState, startBenchSystem } from './support';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key, value ?? 'true'] as const;
  }),
);
const TOKENS = Number(args.get('tokens') ?? 10_000_000);
const SMALL = Number(args.get('small') ?? Math.min(10_000, Math.floor(TOKENS / 10)));
const CLIENTS = Number(args.get('clients') ?? 8);
const SECONDS = Number(args.get('seconds') ?? 5);
const PORT = Number(args.get('port') ?? 3920);
const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The bench system's API key belongs to this environment (support.ts: API_KEYS=dev:…). */
const ENVIRONMENT = 'dev';

const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);

interface Latencies {
  requests: number;
  failed: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

interface SizeResult {
  tokens: number;
  seedSeconds: number;
  startMs: number;
  disk: { eventsBytes: number; projectionBytes: number; eventsMBPerMillion: number; projectionMBPerMillion: number };
  requests: Record<string, Latencies>;
}

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
  const round = (v: number) => Math.round(v * 10) / 10;
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1] ?? NaN) };
}

/** CLIENTS loops sending `request(i)` back to back for SECONDS (or until `limit` requests). */
async function measure(request: (i: number) => Promise<Response>, limit = Infinity): Promise<Latencies> {
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < deadline && next < limit) {
        const i = next++;
        const t0 = performance.now();
        const response = await request(i).catch(() => undefined);
        if (response) await response.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (!response?.ok) failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { requests: latencies.length, failed, perSecond: Math.round(latencies.length / seconds), ...percentiles(latencies) };
}

const seeded = (name: string, tokens: number) => seededDatabase({ adminUrl: ADMIN_URL, name, tokens, environment: ENVIRONMENT, log });

async function diskOf(databaseUrl: string, tokens: number): Promise<SizeResult['disk']> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ events: string; projection: string }>(
      `SELECT pg_total_relation_size('es_events') AS events,
              pg_total_relation_size('waitpoint_tokens') + pg_total_relation_size('waitpoint_idempotency_keys')
                + pg_total_relation_size('waitpoint_request_keys') AS projection`,
    );
    const perMillion = (bytes: number) => Math.round((bytes / 1_048_576) * (1_000_000 / tokens));
    const eventsBytes = Number(rows[0].events);
    const projectionBytes = Number(rows[0].projection);
    return {
      eventsBytes,
      projectionBytes,
      eventsMBPerMillion: perMillion(eventsBytes),
      projectionMBPerMillion: perMillion(projectionBytes),
    };
  } finally {
    await client.end();
  }
}

async function sampleIds(databaseUrl: string): Promise<string[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM waitpoint_tokens TABLESAMPLE SYSTEM (1) LIMIT 2000`);
    return rows.map((r) => `waitpoint_${r.id}`);
  } finally {
    await client.end();
  }
}

async function measureSize(tokens: number): Promise<SizeResult> {
  const name = benchSystemName();
  log(`${tokens.toLocaleString('en-US')} tokens: seeding database waitpoints_${name}`);
  let system: BenchSystem | undefined;
  try {
    const { url, seedSeconds } = await seeded(name, tokens);
    const disk = await diskOf(url, tokens);
    log(`  seeded in ${seedSeconds.toFixed(1)} s; starting the services`);
    const startedAt = Date.now();
    // Retention off: the seeded history spans 30 days, the default retention, so a pass would
    // remove tokens the reads below pick (and add its own work to what is measured here; a pass
    // under load is bench:retention's subject).
    system = await startBenchSystem({ name, port: PORT, scheduler: true, env: { TOKEN_RETENTION: 'off' } });
    const startMs = Date.now() - startedAt;
    const { baseUrl, apiKey } = system;
    const tokensUrl = `${baseUrl}/api/v1/waitpoints/tokens`;
    const auth = { authorization: `Bearer ${apiKey}` };
    const get = (path: string) => fetch(`${tokensUrl}${path}`, { headers: auth });
    const json = { ...auth, 'content-type': 'application/json' };
    const ids = await sampleIds(url);

    const requests: Record<string, Latencies> = {};
    const run = async (label: string, request: (i: number) => Promise<Response>, limit?: number) => {
      requests[label] = await measure(request, limit);
      const r = requests[label];
      log(`  ${label.padEnd(22)} p50 ${r.p50} ms  p99 ${r.p99} ms  (${r.requests} requests, ${r.failed} failed)`);
    };

    const created: string[] = [];
    await run('create', async () => {
      const response = await fetch(tokensUrl, { method: 'POST', headers: json, body: JSON.stringify({ timeout: '1h', tags: ['bench'] }) });
      if (response.ok) created.push(((await response.clone().json()) as { id: string }).id);
      return response;
    });
    await run(
      'complete',
      (i) => fetch(`${tokensUrl}/${created[i]}/complete`, { method: 'POST', headers: json, body: JSON.stringify({ data: { ok: true } }) }),
      created.length,
    );
    await run('retrieve', (i) => get(`/${ids[i % ids.length]}`));
    await run('list', () => get('?page[size]=20'));
    for (const status of ['WAITING', 'COMPLETED', 'TIMED_OUT', 'CANCELLED']) {
      await run(`list status=${status}`, () => get(`?page[size]=20&filter[status]=${status}`));
    }
    await run('list common tag', (i) => get(`?page[size]=20&filter[tags]=${COMMON_TAGS[i % COMMON_TAGS.length]}`));
    await run('list rare tag', (i) => get(`?page[size]=20&filter[tags]=${encodeURIComponent(rareTag(tokens, i * 2 + 2))}`));
    await run('list period=1h', () => get('?page[size]=20&filter[createdAt][period]=1h'));
    let cursor: string | undefined;
    for (let page = 1; page < 20; page++) {
      const body = (await (await get(`?page[size]=20${cursor ? `&page[after]=${cursor}` : ''}`)).json()) as {
        pagination: { next?: string };
      };
      cursor = body.pagination.next;
    }
    await run('list 20th page', () => get(`?page[size]=20&page[after]=${cursor}`));

    const signIn = await fetch(`${baseUrl}/dashboard/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ apiKey }),
    });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0];
    await run('dashboard overview', () => fetch(`${baseUrl}/dashboard/frag/overview`, { headers: { cookie } }));
    return { tokens, seedSeconds, startMs, disk, requests };
  } finally {
    if (system) await system.stop();
    else {
      const admin = new Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "waitpoints_${name}" WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    }
    await deleteJetStreamState(name).catch(() => undefined);
  }
}

async function main() {
  const loadBefore = loadavg();
  log(
    `bench:scale: ${SMALL.toLocaleString('en-US')} and ${TOKENS.toLocaleString('en-US')} tokens, ${CLIENTS} clients, ${SECONDS} s per request`,
  );
  const small = await measureSize(SMALL);
  const large = await measureSize(TOKENS);

  const rows = Object.keys(large.requests).map((label) => {
    const s = small.requests[label];
    const l = large.requests[label];
    return {
      request: label,
      [`p50 ms @${SMALL}`]: s.p50,
      [`p99 ms @${SMALL}`]: s.p99,
      [`p50 ms @${TOKENS}`]: l.p50,
      [`p99 ms @${TOKENS}`]: l.p99,
      'p99 ratio': Math.round((l.p99 / s.p99) * 100) / 100,
      failed: s.failed + l.failed,
    };
  });
  console.table(rows);
  console.table(
    [small, large].map((r) => ({
      tokens: r.tokens,
      'seed s': r.seedSeconds,
      'start ms': r.startMs,
      'events MB/M tokens': r.disk.eventsMBPerMillion,
      'projection MB/M tokens': r.disk.projectionMBPerMillion,
    })),
  );
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(
    file,
    `${JSON.stringify({ clients: CLIENTS, secondsPerRequest: SECONDS, loadAverage: { before: loadBefore, after: loadavg() }, small, large, table: rows }, null, 2)}\n`,
  );
  log(`written ${file}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
