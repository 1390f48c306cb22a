import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
// Relative, not the alias: Jest's globalSetup loads this file without the module mapper.
import { withTimeout } from '../../../libs/platform/src/with-timeout';

export const REPO_ROOT = resolve(__dirname, '../../..');

/**
 * Last-resort cleanup: `afterAll` stops everything on success and failure alike, but an
 * interrupted run (Ctrl-C, a CI timeout) must not leave servers behind either. Only synchronous
 * work is possible here.
 */
const leftovers = new Set<() => void>();
let cleanupInstalled = false;

export function cleanUpOnExit(cleanup: () => void): () => void {
  if (!cleanupInstalled) {
    cleanupInstalled = true;
    const runAll = () => {
      for (const step of leftovers) {
        try {
          step();
        } catch {
          // keep cleaning the rest
        }
      }
      leftovers.clear();
    };
    process.once('exit', runAll);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        runAll();
        process.exit(130);
      });
    }
  }
  leftovers.add(cleanup);
  return () => leftovers.delete(cleanup);
}

export type AppName = 'gateway' | 'token-service' | 'scheduler';

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Awaits one step of a fault with a bound: a step that hangs fails with its name instead of
 * holding the suite until Jest's test timeout. With FAULTS_TRACE=1 each step's start and
 * duration are printed.
 */
export async function step<T>(what: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  const startedAt = Date.now();
  if (process.env.FAULTS_TRACE === '1') process.stderr.write(`[faults] ${new Date().toISOString()} ${what}…\n`);
  try {
    return await withTimeout(work(), timeoutMs, what);
  } finally {
    if (process.env.FAULTS_TRACE === '1') process.stderr.write(`[faults] ${what}: ${Date.now() - startedAt} ms\n`);
  }
}

/** Retries `check` until it passes; then rethrows its last failure, naming what was awaited. */
export async function waitUntil(what: string, timeoutMs: number, check: () => Promise<unknown>, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${(error as Error).message}`, { cause: error });
      }
      await sleep(everyMs);
    }
  }
}

/** True when the process has exited within the time. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

/**
 * One app of the system running from `dist/` as its own process, the way it is deployed.
 * Its output goes to a log file in the fault's directory (printed when a fault fails).
 */
export class AppProcess {
  private child?: ChildProcess;
  private starts = 0;
  /** Set when the process died on its own (not by our signal): a crash the fault must report. */
  unexpectedExits: string[] = [];
  private expectingExit = false;

  constructor(
    readonly app: AppName,
    readonly label: string,
    private readonly env: Record<string, string>,
    private readonly logDir: string,
  ) {}

  get logFile(): string {
    return join(this.logDir, `${this.label}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) return;
    const main = join(REPO_ROOT, 'dist', 'apps', this.app, 'src', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first (npm run test:faults does)`);
    const log = openSync(this.logFile, 'a');
    this.starts++;
    this.expectingExit = false;
    const child = spawn(process.execPath, [main], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', ...this.env },
      stdio: ['ignore', log, log],
    });
    const forget = cleanUpOnExit(() => child.kill('SIGKILL'));
    child.on('exit', (code, signal) => {
      forget();
      if (!this.expectingExit) this.unexpectedExits.push(`${this.label} exited on its own (code ${code}, signal ${signal})`);
    });
    this.child = child;
  }

  /** `kill -9`: no shutdown hooks, no goodbye to NATS or PostgreSQL. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** A clean stop (SIGTERM): shutdown hooks run. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.expectingExit = true;
    child.kill(signal);
    if (!(await waitForExit(child, 15_000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
  }

  /** Waits until the current run of this process has logged `text` (each start appends to the same log). */
  async waitForLog(text: string, timeoutMs: number): Promise<void> {
    await waitUntil(`${this.label} to log "${text}"`, timeoutMs, async () => {
      if (!this.running) throw new Error(`${this.label} is not running:\n${this.logTail(15)}`);
      const times = readFileSync(this.logFile, 'utf8').split(text).length - 1;
      if (times < this.starts) throw new Error('not yet');
    });
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
