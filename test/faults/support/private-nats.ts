import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { cleanUpOnExit, freePort, waitForExit, waitUntil } from './processes';

/**
 * Private nats-server processes for fault injection. The machine's shared NATS (4222) is
 * never touched: each fault starts, stops and kills only servers it made itself.
 */
export const NATS_SERVER_BIN = process.env.FAULTS_NATS_SERVER ?? '/usr/sbin/nats-server';

export interface NatsNodeOptions {
  name: string;
  dir: string;
  port?: number;
  /** Cluster members: this node's route port and every member's route URL. */
  cluster?: { name: string; port: number; routes: string[] };
}

export class PrivateNatsServer {
  private process?: ChildProcess;
  readonly url: string;
  readonly storeDir: string;
  readonly logFile: string;

  private constructor(private readonly options: NatsNodeOptions & { port: number }) {
    this.url = `nats://127.0.0.1:${options.port}`;
    this.storeDir = join(options.dir, `${options.name}-store`);
    this.logFile = join(options.dir, `${options.name}.log`);
  }

  static async start(options: NatsNodeOptions): Promise<PrivateNatsServer> {
    const server = new PrivateNatsServer({ ...options, port: options.port ?? (await freePort()) });
    await server.start();
    return server;
  }

  get port(): number {
    return this.options.port;
  }

  get running(): boolean {
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** (Re)starts the server on the same port and store directory, so JetStream keeps its data. */
  async start(): Promise<void> {
    if (this.running) return;
    if (!existsSync(NATS_SERVER_BIN)) {
      throw new Error(`${NATS_SERVER_BIN} not found: the fault suite starts its own nats-server (set FAULTS_NATS_SERVER)`);
    }
    const { name, port, cluster } = this.options;
    const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', this.storeDir, '-n', name];
    if (cluster) {
      args.push('--cluster_name', cluster.name, '--cluster', `nats://127.0.0.1:${cluster.port}`, '--routes', cluster.routes.join(','));
    }
    const log = openSync(this.logFile, 'a');
    const child = spawn(NATS_SERVER_BIN, args, { stdio: ['ignore', log, log] });
    child.on('error', () => undefined);
    const forget = cleanUpOnExit(() => child.kill('SIGKILL'));
    child.once('exit', forget);
    this.process = child;
    await waitUntil(`nats-server ${name} accepting clients on ${port}`, 15_000, async () => {
      if (!this.running) throw new Error(`nats-server ${name} exited (see ${this.logFile})`);
      const nc = await connect({ servers: this.url, timeout: 1000, reconnect: false });
      await nc.close();
    });
  }

  /** A clean stop (SIGTERM), as an operator or an orchestrator would. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** A crash: the process is gone at once, mid-write. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (!child || !this.running) return;
    child.kill(signal);
    if (!(await waitForExit(child, 10_000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
  }
}

/** One nats-server with JetStream in its own temporary directory. */
export async function startPrivateNats(name = 'nats'): Promise<{ server: PrivateNatsServer; dispose(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'waitpoints-faults-nats-'));
  const server = await PrivateNatsServer.start({ name, dir });
  return {
    server,
    async dispose() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateNatsCluster {
  nodes: PrivateNatsServer[];
  /** Every node, comma-separated, as NATS_URL takes it. */
  urls: string;
  dispose(): Promise<void>;
}

/** Three (or more) routed nats-servers with JetStream: a cluster that can lose one node. */
export async function startPrivateNatsCluster(size = 3): Promise<PrivateNatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'waitpoints-faults-cluster-'));
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`);
  const nodes: PrivateNatsServer[] = [];
  const dispose = async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      clientPorts.map(async (port, i) => {
        nodes[i] = await PrivateNatsServer.start({
          name: `node${i + 1}`,
          dir,
          port,
          cluster: { name: 'faults', port: routePorts[i], routes: routes.filter((_, j) => j !== i) },
        });
      }),
    );
    const urls = nodes.map((node) => node.url).join(',');
    // JetStream in a cluster answers only once the nodes have elected a meta leader.
    await waitUntil('the NATS cluster to elect a JetStream meta leader', 30_000, async () => {
      const nc = await connect({ servers: urls, timeout: 1000 });
      try {
        await (await nc.jetstreamManager()).getAccountInfo();
      } finally {
        await nc.close();
      }
    });
    return { nodes, urls, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
