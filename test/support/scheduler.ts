import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { createScheduler } from '../../apps/scheduler/src/app';
import { loadSchedulerConfig } from '../../apps/scheduler/src/config';
import { SchedulerOverrides } from '../../apps/scheduler/src/scheduler.module';
import { TimeoutScheduler } from '../../apps/scheduler/src/timeout-scheduler';
import { TEST_KEYS, RunningSystem } from './system';
import { TEST_NATS_URL } from './services';

export interface RunningScheduler {
  app: INestApplication;
  scheduler: TimeoutScheduler;
  /** Base URL of its /metrics, /health and /ready. */
  opsUrl: string;
  /** `graceful: false` stops it the way a crash would (leases are left to run out). */
  stop(options?: { graceful?: boolean }): Promise<void>;
}

/** Boots a scheduler instance in this process against a running test system's database and subjects. */
export async function startScheduler(
  system: Pick<RunningSystem, 'databaseUrl' | 'subjectPrefix'>,
  options: { env?: Record<string, string>; overrides?: SchedulerOverrides } = {},
): Promise<RunningScheduler> {
  process.env.LOG_LEVEL = 'silent';
  const config = loadSchedulerConfig({
    DATABASE_URL: system.databaseUrl,
    NATS_URL: TEST_NATS_URL,
    NATS_SUBJECT_PREFIX: system.subjectPrefix,
    SCHEDULER_POLL_INTERVAL_MS: '200',
    SCHEDULER_LOOKAHEAD_MS: '2000',
    SCHEDULER_LEASE_MS: '10000',
    // Any free port: several schedulers and test systems run side by side.
    SCHEDULER_METRICS_PORT: '0',
    SCHEDULER_METRICS_HOST: '127.0.0.1',
    ...options.env,
  });
  const app = await createScheduler(config, options.overrides);
  const scheduler = app.get(TimeoutScheduler);
  const address = app.getHttpServer().address();
  return {
    app,
    scheduler,
    opsUrl: typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '',
    async stop({ graceful = true } = {}) {
      await scheduler.stop({ graceful });
      await app.close();
    },
  };
}

/** Authenticated JSON calls to the gateway's token API (dev environment). */
export function tokenApi(system: RunningSystem) {
  const headers = { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${system.tokensUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${text}`);
    return JSON.parse(text);
  };
  return {
    create: (body: { timeout: string; tags?: string[] }): Promise<{ id: string }> => call('POST', '', body),
    retrieve: (id: string) => call('GET', `/${id}`),
    complete: (id: string, data: unknown) => call('POST', `/${id}/complete`, { data }),
  };
}

/** Direct SQL on a test database (events, projections and timers are checked there). */
export async function withDatabase<T>(databaseUrl: string, work: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/** Polls until `check` returns a value (not undefined), or fails with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
