import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { AppName, AppProcess, freePort, waitUntil } from './processes';

export const FAULTS_API_KEY = 'tr_dev_faults_key_0123456789abcdef';
/** Short enough for the suite, long enough for a loaded 2-core machine. */
export const FAULTS_REQUEST_TIMEOUT_MS = 3000;

export interface FaultSystemOptions {
  /** NATS_URL: one server or a comma-separated cluster. */
  natsUrl: string;
  /** Admin URL of the PostgreSQL to use (`/postgres`); the system gets a fresh database on it. */
  postgresAdminUrl: string;
  tokenServices?: number;
  schedulers?: number;
  env?: Record<string, string>;
}

/**
 * The whole system as separate processes from `dist/`: one gateway, N token-services and
 * M schedulers, on a fresh database and subject prefix. Each process can be killed,
 * stopped and restarted alone.
 */
export class FaultSystem {
  readonly name = `faults${randomBytes(3).toString('hex')}`;
  readonly logDir = mkdtempSync(join(tmpdir(), 'waitpoints-faults-logs-'));
  readonly databaseUrl: string;
  gateway!: AppProcess;
  readonly tokenServices: AppProcess[] = [];
  readonly schedulers: AppProcess[] = [];
  baseUrl = '';

  constructor(private readonly options: FaultSystemOptions) {
    const url = new URL(options.postgresAdminUrl);
    url.pathname = `/waitpoints_${this.name}`;
    this.databaseUrl = url.toString();
  }

  get subjectPrefix(): string {
    return this.name;
  }

  /** The token-services' ARCHIVE_DIR, when retention archives: the audit reads removed tokens there. */
  get archiveDir(): string | undefined {
    return this.options.env?.ARCHIVE_DIR;
  }

  get apps(): AppProcess[] {
    return [this.gateway, ...this.tokenServices, ...this.schedulers].filter(Boolean);
  }

  async start(): Promise<void> {
    const port = await freePort();
    this.baseUrl = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      DATABASE_URL: this.databaseUrl,
      NATS_URL: this.options.natsUrl,
      NATS_SUBJECT_PREFIX: this.name,
      NATS_REQUEST_TIMEOUT_MS: String(FAULTS_REQUEST_TIMEOUT_MS),
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: this.baseUrl,
      API_KEYS: `dev:${FAULTS_API_KEY}`,
      SIGNING_SECRETS: 'faults-signing-secret-0123456789abcdef',
      // A restarted scheduler takes over a killed one's leases after this (must exceed look-ahead + poll).
      SCHEDULER_LOOKAHEAD_MS: '3000',
      SCHEDULER_LEASE_MS: '8000',
      // Small pools: the shared PostgreSQL serves other test runs too (max_connections 100).
      DATABASE_POOL_SIZE: '8',
      SCHEDULER_DATABASE_POOL_SIZE: '4',
      // Any free port for each process's /metrics: two instances of one app on their default
      // ports (3001, 3002) would clash, and so would a developer's running system.
      METRICS_PORT: '0',
      SCHEDULER_METRICS_PORT: '0',
      ...this.options.env,
    };
    const make = (app: AppName, label: string) => new AppProcess(app, label, env, this.logDir);
    for (let i = 0; i < (this.options.tokenServices ?? 1); i++) this.tokenServices.push(make('token-service', `token-service-${i + 1}`));
    for (let i = 0; i < (this.options.schedulers ?? 1); i++) this.schedulers.push(make('scheduler', `scheduler-${i + 1}`));
    this.gateway = make('gateway', 'gateway');
    // Token-services first: they create the database, migrate and declare the stream.
    this.tokenServices.forEach((app) => app.start());
    this.gateway.start();
    await this.waitUntilServing(60_000);
    this.schedulers.forEach((app) => app.start());
    await this.waitForSchedulers(this.schedulers);
  }

  /** Until each scheduler consumes the event stream. */
  async waitForSchedulers(schedulers: AppProcess[], timeoutMs = 60_000): Promise<void> {
    await Promise.all(schedulers.map((app) => app.waitForLog('learning deadlines from', timeoutMs)));
  }

  /** Until the gateway answers a list through a token-service. */
  async waitUntilServing(timeoutMs: number): Promise<void> {
    await waitUntil(`the system to answer at ${this.baseUrl}`, timeoutMs, async () => {
      const response = await fetch(`${this.baseUrl}/api/v1/waitpoints/tokens?page[size]=1`, {
        headers: { authorization: `Bearer ${FAULTS_API_KEY}` },
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    });
  }

  /** Processes that died without being told to: any is a defect the fault found. */
  unexpectedExits(): string[] {
    return this.apps.flatMap((app) => app.unexpectedExits);
  }

  logs(lines = 30): string {
    return this.apps.map((app) => `--- ${app.label} (${app.logFile})\n${app.logTail(lines)}`).join('\n');
  }

  /** Logs are kept (and their directory printed) with FAULTS_KEEP_LOGS=1. */
  async stop({ keepLogs = process.env.FAULTS_KEEP_LOGS === '1' }: { keepLogs?: boolean } = {}): Promise<void> {
    await Promise.all(this.apps.map((app) => app.stop()));
    const admin = new Client({ connectionString: this.options.postgresAdminUrl, connectionTimeoutMillis: 5000 });
    try {
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "waitpoints_${this.name}" WITH (FORCE)`);
    } catch {
      // a private server that is already gone takes its databases with it
    } finally {
      await admin.end().catch(() => undefined);
    }
    if (keepLogs) process.stdout.write(`logs of ${this.name}: ${this.logDir}\n`);
    else rmSync(this.logDir, { recursive: true, force: true });
  }
}
