import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * Starts the compiled services as separate processes (as `npm start` does), each with a
 * fresh database and subject prefix, so a benchmark never touches anyone's data.
 */
export interface BenchSystem {
  baseUrl: string;
  apiKey: string;
  databaseUrl: string;
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
}

/** Compiled services to run (another build's dist/ to compare before and after a change). */
const DIST = process.env.BENCH_DIST ?? 'dist';

const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function startBenchSystem(options: BenchSystemOptions | number = {}): Promise<BenchSystem> {
  const { port = 3900, tokenServices = 1, env: extraEnv = {} } = typeof options === 'number' ? { port: options } : options;
  const name = `bench${randomBytes(3).toString('hex')}`;
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
    ...extraEnv,
  };
  const children: ChildProcess[] = [];
  const pids: Record<string, number[]> = {};
  const start = (app: string, instance = 0) => {
    const log = `/tmp/prof-${app}${instance ? `-${instance}` : ''}.log`;
    // BENCH_PROFILE=1: V8 tick logs (node --prof-process); BENCH_PROFILE=cpu: .cpuprofile files.
    const profile =
      process.env.BENCH_PROFILE === 'cpu'
        ? ['--cpu-prof', `--cpu-prof-dir=/tmp/cpuprof-${app}`]
        : process.env.BENCH_PROFILE
          ? ['--prof', `--logfile=${log}`, '--no-logfile-per-isolate']
          : [];
    const child = spawn(process.execPath, [...profile, `${DIST}/apps/${app}/src/main.js`], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(child);
    (pids[app] ??= []).push(child.pid!);
  };
  // The first instance creates the database and migrates it before the others connect.
  start('token-service');
  await waitForFirstInstance(databaseUrl);
  for (let i = 1; i < tokenServices; i++) start('token-service', i);
  start('gateway');
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForReady(baseUrl, apiKey);
  return {
    baseUrl,
    apiKey,
    databaseUrl,
    pids,
    async stop() {
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.once('exit', resolve)))));
      const admin = new Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "waitpoints_${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
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
