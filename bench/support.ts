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
  stop(): Promise<void>;
}

const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function startBenchSystem(port = 3900): Promise<BenchSystem> {
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
    LOG_LEVEL: 'silent',
  };
  const children: ChildProcess[] = [];
  const start = (app: string) => {
    const profile = process.env.BENCH_PROFILE ? ['--prof', `--logfile=/tmp/prof-${app}.log`, '--no-logfile-per-isolate'] : [];
    const child = spawn(process.execPath, [...profile, `dist/apps/${app}/src/main.js`], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(child);
  };
  start('token-service');
  start('gateway');
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForReady(baseUrl, apiKey);
  return {
    baseUrl,
    apiKey,
    databaseUrl,
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
