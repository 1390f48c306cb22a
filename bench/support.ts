import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, AddressInfo } from 'node:net';
import { connect } from 'nats';
import { Client } from 'pg';
// Relative imports: bench:create runs this file without tsconfig-paths.
import { eventStreamName } from '../libs/contracts/src/subjects';
import { outputsBucketName, uploadsBucketName } from '../libs/contracts/src/nats/output-store';

/**
 * Starts the compiled services as separate processes (as `npm start` does), each with a
 * fresh database and subject prefix, so a benchmark never touches anyone's data.
 */
export interface BenchSystem {
  baseUrl: string;
  apiKey: string;
  databaseUrl: string;
  /** NATS subject prefix (also names the JetStream stream and object stores): see deleteJetStreamState. */
  subjectPrefix: string;
  /** Process ids by component (`token-service` may have several), for CPU accounting. */
  pids: Record<string, number[]>;
  stop(): Promise<void>;
}

export interface BenchSystemOptions {
  port?: number;
  /** Token-service processes sharing the command load through the NATS queue group. */
  tokenServices?: number;
  /** Extra environment for the services (pool sizes, batch sizes). */
  env?: Record<string, string>;
  /** Also start the scheduler (timeouts), so a benchmark counts the whole system's CPU. */
  scheduler?: boolean;
  /** Subject prefix and database suffix; random unless given (to clean up after a failed start). */
  name?: string;
  /** Told of each service process as it is spawned (to stop them if the caller is interrupted mid-start). */
  onSpawn?: (child: ChildProcess) => void;
  /** The compiled services to run: another build's dist/ (default BENCH_DIST, else ./dist). */
  dist?: string;
}

/** Compiled services to run (another build's dist/ to compare before and after a change). */
const DIST = process.env.BENCH_DIST ?? 'dist';

const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function startBenchSystem(options: BenchSystemOptions | number = {}): Promise<BenchSystem> {
  const {
    port = 3900,
    tokenServices = 1,
    env: extraEnv = {},
    scheduler = false,
    name = benchSystemName(),
    onSpawn,
    dist = DIST,
  } = typeof options === 'number' ? { port: options } : options;
  const url = new URL(ADMIN_URL);
  url.pathname = `/waitpoints_${name}`;
  const databaseUrl = url.toString();
  const apiKey = 'tr_dev_bench_key_0123456789abcdef';
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    NATS_SUBJECT_PREFIX: name,
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    API_KEYS: `dev:${apiKey}`,
    SIGNING_SECRETS: 'bench-signing-secret-0123456789abcdef',
    LOG_LEVEL: 'silent',
    // Ops listeners (/metrics, /health, /ready) on any free port: other systems may run beside this one.
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    SCHEDULER_METRICS_PORT: '0',
    SCHEDULER_METRICS_HOST: '127.0.0.1',
    ...extraEnv,
  };
  const children: ChildProcess[] = [];
  const pids: Record<string, number[]> = {};
  const start = (app: string, instance = 0, appEnv: Record<string, string> = {}) => {
    const log = `/tmp/prof-${app}${instance ? `-${instance}` : ''}.log`;
    // BENCH_PROFILE=1: V8 tick logs (node --prof-process); BENCH_PROFILE=cpu: .cpuprofile files.
    const profile =
      process.env.BENCH_PROFILE === 'cpu'
        ? ['--cpu-prof', `--cpu-prof-dir=/tmp/cpuprof-${app}`]
        : process.env.BENCH_PROFILE
          ? ['--prof', `--logfile=${log}`, '--no-logfile-per-isolate']
          : [];
    const child = spawn(process.execPath, [...profile, `${dist}/apps/${app}/src/main.js`], {
      env: { ...env, ...appEnv },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    onSpawn?.(child);
    (pids[app] ??= []).push(child.pid!);
  };
  const stop = async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    // Bounded: a service that does not stop within 10 s is killed.
    await Promise.all(children.map((child) => exited(child, 10_000)));
    const admin = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 10_000, statement_timeout: 30_000 });
    try {
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "waitpoints_${name}" WITH (FORCE)`);
    } finally {
      await admin.end().catch(() => undefined);
    }
  };
  try {
    // The first instance creates the database and migrates it before the others connect.
    start('token-service');
    await waitForFirstInstance(databaseUrl);
    for (let i = 1; i < tokenServices; i++) start('token-service', i);
    if (scheduler) {
      // Its ops listener on a port chosen here, to know when it is up (it listens after init).
      const opsPort = await freePort();
      start('scheduler', 0, { SCHEDULER_METRICS_PORT: String(opsPort) });
      await waitForOk(`http://127.0.0.1:${opsPort}/ready`, 'the scheduler');
    }
    start('gateway');
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitForReady(baseUrl, apiKey);
    return { baseUrl, apiKey, databaseUrl, subjectPrefix: name, pids, stop };
  } catch (error) {
    // Nothing left behind when the start fails.
    await stop().catch(() => undefined);
    throw error;
  }
}

/** `count` tokens created one after another (timeout 1 h): what a benchmark then completes. */
export async function createWaitingTokens(system: BenchSystem, count: number): Promise<string[]> {
  const headers = { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' };
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${system.baseUrl}/api/v1/waitpoints/tokens`, { method: 'POST', headers, body: '{"timeout":"1h"}' });
    if (!response.ok) throw new Error(`create answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
    ids.push(((await response.json()) as { id: string }).id);
  }
  return ids;
}

export const benchSystemName = () => `bench${randomBytes(3).toString('hex')}`;

/** Removes what the services created on JetStream for this system (its event stream and object stores). */
export async function deleteJetStreamState(
  subjectPrefix: string,
  natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
): Promise<void> {
  const nc = await connect({ servers: natsUrl, timeout: 5_000 });
  try {
    const jsm = await nc.jetstreamManager({ timeout: 5_000 });
    for (const stream of [
      eventStreamName(subjectPrefix),
      `OBJ_${uploadsBucketName(subjectPrefix)}`,
      `OBJ_${outputsBucketName(subjectPrefix)}`,
    ]) {
      await jsm.streams.delete(stream).catch(() => undefined);
    }
  } finally {
    await nc.close();
  }
}

/** A free TCP port on the loopback interface (free when asked: good enough for a benchmark). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when the child has exited; SIGKILLs it if it has not after `graceMs`. */
export function exited(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
  });
}

async function waitForOk(url: string, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} did not become ready at ${url} within 30 s (run npm run build first?)`);
}

async function waitForReady(baseUrl: string, apiKey: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${baseUrl}/api/v1/waitpoints/tokens?page[size]=1`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the system did not become ready at ${baseUrl} within 30 s (run npm run build first?)`);
}

async function waitForFirstInstance(databaseUrl: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const client = new Client({ connectionString: databaseUrl });
    try {
      await client.connect();
      const { rows } = await client.query(`SELECT to_regclass('waitpoint_tokens') IS NOT NULL AS ready`);
      if (rows[0].ready) return;
    } catch {
      // database not created yet
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the token-service did not create its database within 30 s (run npm run build first?)');
}
