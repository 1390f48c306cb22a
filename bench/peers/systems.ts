/**
 * The three systems as the bench driver sees them: started fresh for each measurement, each
 * with its waiter process, an HTTP completion call, the processes whose CPU counts, and a stop
 * that leaves nothing behind (processes, databases, JetStream streams, temp dirs).
 */
import { ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { PidsByComponent, pidsNamed, postgresBackends } from '../cpu';
import { BenchSystem, benchSystemName, deleteJetStreamState, exited, freePort, startBenchSystem } from '../support';
import { DriverMessage, WaiterMessage, now, sleep, withTimeout } from './common';

export type SystemName = 'ours' | 'restate' | 'dbos';
export const SYSTEM_NAMES: SystemName[] = ['ours', 'restate', 'dbos'];

const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROOT = join(__dirname, '..', '..');

/** Told of a system's stop as soon as there is anything to stop, so an interrupt can tear down a half-started one. */
export type Track = (stop: () => Promise<void>) => void;

export interface PeerSystem {
  name: SystemName;
  waiter: WaiterProcess;
  /** Completes one wait over the system's external HTTP API; throws unless answered 2xx. */
  complete(id: string, value: unknown): Promise<void>;
  /** Process ids by component, for CPU accounting (asked before and after each phase). */
  processes(): Promise<PidsByComponent>;
  /** Which components are the system itself (summed as its CPU); the rest is reported beside it. */
  systemComponents: string[];
  info: Record<string, unknown>;
  stop(): Promise<void>;
}

export function versionOf(pkg: string): string {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------- the waiter process

/** A waiter process (bench/peers/waiter-*.ts) and its IPC requests, one at a time. */
export class WaiterProcess {
  private exitError?: Error;
  private waiting?: { expect: WaiterMessage['type']; resolve: (m: WaiterMessage) => void; reject: (e: Error) => void };

  private constructor(
    readonly child: ChildProcess,
    private readonly what: string,
  ) {
    child.on('message', (message: WaiterMessage) => {
      const waiting = this.waiting;
      if (!waiting) return;
      if (message.type === 'failed') {
        this.waiting = undefined;
        waiting.reject(new Error(`${what}: ${message.error}`));
      } else if (message.type === waiting.expect) {
        this.waiting = undefined;
        waiting.resolve(message);
      }
    });
    child.on('exit', (code, signal) => {
      this.exitError = new Error(`${what} exited (${signal ?? `code ${code}`})`);
      this.waiting?.reject(this.exitError);
      this.waiting = undefined;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(
    file: string,
    env: Record<string, string>,
    what: string,
  ): Promise<{ waiter: WaiterProcess; info: Record<string, unknown> }> {
    const child = fork(join(__dirname, file), [], {
      cwd: ROOT,
      execArgv: [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        // BENCH_PROFILE=cpu profiles the waiters too, as bench/support.ts does the services.
        ...(process.env.BENCH_PROFILE === 'cpu' ? ['--cpu-prof', `--cpu-prof-dir=/tmp/cpuprof-waiter-${file.replace(/\W+/g, '-')}`] : []),
      ],
      env: { ...process.env, ...env, TS_NODE_TRANSPILE_ONLY: 'true' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const waiter = new WaiterProcess(child, what);
    try {
      const ready = await waiter.next('ready', 90_000);
      return { waiter, info: ready.type === 'ready' ? ready.info : {} };
    } catch (error) {
      await waiter.stop();
      throw error;
    }
  }

  private next(expect: WaiterMessage['type'], timeoutMs: number): Promise<WaiterMessage> {
    if (this.exitError) return Promise.reject(this.exitError);
    if (this.waiting) return Promise.reject(new Error(`${this.what}: a request is already under way`));
    const answer = new Promise<WaiterMessage>((resolve, reject) => (this.waiting = { expect, resolve, reject }));
    return withTimeout(answer, timeoutMs, `${this.what} (${expect})`).catch((error) => {
      this.waiting = undefined;
      throw error;
    });
  }

  async request<K extends WaiterMessage['type']>(
    message: DriverMessage,
    expect: K,
    timeoutMs: number,
  ): Promise<Extract<WaiterMessage, { type: K }>> {
    const answer = this.next(expect, timeoutMs);
    this.child.send(message);
    return (await answer) as Extract<WaiterMessage, { type: K }>;
  }

  /**
   * How far the waiter process's clock (`now()`) is from this one's: offset = its stamp − the
   * midpoint of the round trip, from the fastest of a few round trips; ± half that round trip.
   */
  async clockOffset(): Promise<{ offsetMs: number; uncertaintyMs: number }> {
    let best = { offsetMs: NaN, uncertaintyMs: Infinity };
    for (let seq = 0; seq < 20; seq++) {
      const sent = now();
      const answer = await this.request({ type: 'clock', seq }, 'clock', 5_000);
      const received = now();
      const halfTrip = (received - sent) / 2;
      if (halfTrip < best.uncertaintyMs) best = { offsetMs: answer.t - (sent + halfTrip), uncertaintyMs: halfTrip };
    }
    const round = (v: number) => Math.round(v * 1000) / 1000;
    return { offsetMs: round(best.offsetMs), uncertaintyMs: round(best.uncertaintyMs) };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.connected) {
      this.child.send({ type: 'stop' } satisfies DriverMessage, () => undefined);
    }
    const gone = exited(this.child, 15_000);
    // SIGTERM if it has not gone after 12 s; exited() SIGKILLs at 15 s.
    const term = setTimeout(() => this.child.kill('SIGTERM'), 12_000);
    await gone;
    clearTimeout(term);
  }
}

// ---------------------------------------------------------------- helpers

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<void> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    text = await response.text();
  } catch (error) {
    // undici's "fetch failed" says why only in its cause (ECONNREFUSED, a reset, the timeout).
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`, { cause: error });
  }
  if (!response.ok) throw new Error(`${response.status} from ${new URL(url).pathname}: ${text.slice(0, 200)}`);
}

async function adminClient(): Promise<Client> {
  const admin = new Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 10_000, statement_timeout: 30_000 });
  admin.on('error', () => undefined);
  await admin.connect();
  return admin;
}

/** Runs every step, even after one fails; bounded; reports the failures. Once: later calls share the first. */
function stopOnce(steps: Array<[string, () => Promise<unknown>]>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= stopAll(steps));
}

async function stopAll(steps: Array<[string, () => Promise<unknown>]>): Promise<void> {
  const failures: string[] = [];
  for (const [what, step] of steps) {
    try {
      await withTimeout(step(), 30_000, what);
    } catch (error) {
      failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (failures.length) console.error(`  teardown problems: ${failures.join('; ')}`);
}

async function waitUntil(what: string, ok: () => Promise<boolean>, timeoutMs: number, died?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const death = died?.();
    if (death) throw new Error(`${what}: ${death}`);
    try {
      if (await ok()) return;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  throw new Error(`${what}: not ready within ${Math.round(timeoutMs / 1000)} s`);
}

// ---------------------------------------------------------------- ours

export async function startOurs(track: Track): Promise<PeerSystem> {
  const port = await freePort();
  const name = benchSystemName();
  const admin = await adminClient();
  const spawned: ChildProcess[] = [];
  let system: BenchSystem | undefined;
  let waiter: WaiterProcess | undefined;
  const stop = stopOnce([
    ['waiter process', async () => waiter?.stop()],
    [
      'services and database',
      async () => {
        if (system) return system.stop();
        // Interrupted while starting: what startBenchSystem had spawned, and its database.
        for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await Promise.all(spawned.map((child) => exited(child, 10_000)));
        await admin.query(`DROP DATABASE IF EXISTS "waitpoints_${name}" WITH (FORCE)`);
      },
    ],
    ['admin connection', () => admin.end()],
    ['JetStream streams', () => deleteJetStreamState(name)],
  ]);
  track(stop);
  try {
    system = await startBenchSystem({ port, scheduler: true, name, onSpawn: (child) => spawned.push(child) });
    const database = new URL(system.databaseUrl).pathname.slice(1);
    const started = await WaiterProcess.start(
      'waiter-ours.ts',
      { WAITPOINTS_API_URL: system.baseUrl, WAITPOINTS_SECRET_KEY: system.apiKey },
      'our waiter process',
    );
    waiter = started.waiter;
    const headers = { authorization: `Bearer ${system.apiKey}` };
    const bench = system;
    return {
      name: 'ours',
      waiter,
      info: { ...started.info, database, subjectPrefix: name, components: 'gateway, token-service, scheduler (compiled dist/)' },
      complete: (id, value) =>
        postJson(`${bench.baseUrl}/api/v1/waitpoints/tokens/${encodeURIComponent(id)}/complete`, { data: value }, headers),
      processes: async () => ({
        gateway: bench.pids.gateway,
        tokenService: bench.pids['token-service'],
        scheduler: bench.pids.scheduler,
        postgres: await postgresBackends(admin, database),
        // Shared with whatever else uses this NATS server: counted whole.
        natsServer: pidsNamed('nats-server'),
        waiter: [waiter!.pid],
      }),
      systemComponents: ['gateway', 'tokenService', 'scheduler', 'postgres', 'natsServer'],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------- Restate

function restateBinary(): string {
  return require.resolve(`@restatedev/restate-server-${platform()}-${arch()}/bin/restate-server`, { paths: [ROOT] });
}

export async function startRestate(track: Track): Promise<PeerSystem> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-peers-restate-'));
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freePort());
  const [ingressPort, adminPort, fabricPort, endpointPort] = [...ports];
  const ingressUrl = `http://127.0.0.1:${ingressPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  // Defaults everywhere (durability included) but where it listens and what it logs.
  const config = [
    `node-name = "bench"`,
    `bind-ip = "127.0.0.1"`,
    `bind-port = ${fabricPort}`,
    `listen-mode = "tcp"`,
    `disable-telemetry = true`,
    `log-filter = "warn"`,
    `log-disable-ansi-codes = true`,
    ``,
    `[admin]`,
    `bind-port = ${adminPort}`,
    `disable-web-ui = true`,
    ``,
    `[ingress]`,
    `bind-port = ${ingressPort}`,
    ``,
  ].join('\n');
  writeFileSync(join(dir, 'restate.toml'), config);
  const logFile = join(dir, 'restate-server.log');
  const logFd = openSync(logFile, 'a');
  let server: ChildProcess | undefined;
  let waiter: WaiterProcess | undefined;
  const logTail = () => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };
  const stop = stopOnce([
    ['waiter process (service endpoint)', async () => waiter?.stop()],
    [
      'restate-server',
      async () => {
        if (!server) return;
        if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
        await exited(server, 10_000);
      },
    ],
    ['temp dir', async () => rmSync(dir, { recursive: true, force: true })],
  ]);
  track(stop);
  try {
    server = spawn(restateBinary(), ['--config-file', join(dir, 'restate.toml'), '--base-dir', join(dir, 'data'), '--no-logo'], {
      cwd: dir,
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    const died = () =>
      server!.exitCode !== null || server!.signalCode !== null ? `restate-server exited; its log ends:\n${logTail()}` : undefined;
    await waitUntil(
      'restate-server admin API',
      async () => (await fetch(`${adminUrl}/health`, { signal: AbortSignal.timeout(2_000) })).ok,
      60_000,
      died,
    );
    await waitUntil(
      'restate-server ingress',
      async () => (await fetch(`${ingressUrl}/restate/health`, { signal: AbortSignal.timeout(2_000) })).ok,
      60_000,
      died,
    );
    const started = await WaiterProcess.start(
      'waiter-restate.ts',
      { RESTATE_INGRESS_URL: ingressUrl, RESTATE_ENDPOINT_PORT: String(endpointPort), RESTATE_LOGGING: 'WARN' },
      'the Restate service endpoint (waiter process)',
    );
    waiter = started.waiter;
    const registration = await fetch(`${adminUrl}/deployments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: `http://127.0.0.1:${endpointPort}` }),
      signal: AbortSignal.timeout(30_000),
    });
    const registered = await registration.text();
    if (!registration.ok) throw new Error(`registering the deployment: ${registration.status} ${registered.slice(0, 300)}`);
    return {
      name: 'restate',
      waiter,
      info: {
        ...started.info,
        server: versionOf('@restatedev/restate-server'),
        sdk: versionOf('@restatedev/restate-sdk'),
        deployment: JSON.parse(registered).id,
      },
      complete: (id, value) => postJson(`${ingressUrl}/restate/awakeables/${encodeURIComponent(id)}/resolve`, value),
      processes: async () => ({ restateServer: [server!.pid!], waiter: [waiter!.pid] }),
      systemComponents: ['restateServer', 'waiter'],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------- DBOS

export async function startDbos(track: Track): Promise<PeerSystem> {
  const database = `dbos_bench_peers_${randomBytes(3).toString('hex')}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const port = await freePort();
  const admin = await adminClient();
  let created = false;
  let waiter: WaiterProcess | undefined;
  const stop = stopOnce([
    ['waiter process (DBOS app)', async () => waiter?.stop()],
    ['database', async () => created && admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)],
    ['admin connection', () => admin.end()],
  ]);
  track(stop);
  try {
    created = true; // (before: an interrupt while it is being created still drops it)
    await admin.query(`CREATE DATABASE "${database}"`);
    const started = await WaiterProcess.start(
      'waiter-dbos.ts',
      { DBOS_SYSTEM_DATABASE_URL: url.toString(), DBOS_HTTP_PORT: String(port) },
      'the DBOS app (waiter process)',
    );
    waiter = started.waiter;
    return {
      name: 'dbos',
      waiter,
      info: { ...started.info, sdk: versionOf('@dbos-inc/dbos-sdk'), database },
      complete: (id, value) => postJson(`http://127.0.0.1:${port}/send/${encodeURIComponent(id)}`, value),
      processes: async () => ({ waiter: [waiter!.pid], postgres: await postgresBackends(admin, database) }),
      systemComponents: ['waiter', 'postgres'],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export const START: Record<SystemName, (track: Track) => Promise<PeerSystem>> = { ours: startOurs, restate: startRestate, dbos: startDbos };
