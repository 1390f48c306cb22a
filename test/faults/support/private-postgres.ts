import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { cleanUpOnExit, freePort, waitUntil } from './processes';

const run = promisify(execFile);

/**
 * A PostgreSQL instance of our own (initdb + pg_ctl in a temporary directory, trust auth), so
 * a fault can stop and restart it while everyone else keeps using the shared server on 5432.
 * PostgreSQL refuses to run as root; as root, its commands run as the `postgres` user.
 */
export const PG_BIN = process.env.FAULTS_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export class PrivatePostgres {
  private readonly forget: () => void;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.forget = cleanUpOnExit(() => {
      const [file, argv] = this.command('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', 'stop']);
      execFileSync(file, argv, { stdio: 'ignore', timeout: 10_000 });
      rmSync(this.dir, { recursive: true, force: true });
    });
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get logFile(): string {
    return join(this.dir, 'postgres.log');
  }

  /** Admin URL (database `postgres`); `databaseUrl(name)` for an app's database. */
  get adminUrl(): string {
    return this.databaseUrl('postgres');
  }

  databaseUrl(name: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`;
  }

  static async create(): Promise<PrivatePostgres> {
    if (!existsSync(join(PG_BIN, 'initdb'))) {
      throw new Error(`${PG_BIN}/initdb not found: the fault suite starts its own PostgreSQL (set FAULTS_PG_BIN)`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'waitpoints-faults-pg-'));
    const asRoot = userInfo().uid === 0;
    if (asRoot) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    const pg = new PrivatePostgres(dir, await freePort());
    try {
      await pg.pg('initdb', ['-D', pg.dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
      await pg.start();
    } catch (error) {
      await pg.dispose();
      throw error;
    }
    return pg;
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
    await this.pg('pg_ctl', ['-D', this.dataDir, '-l', this.logFile, '-o', options, '-w', '-t', '60', 'start']);
    await waitUntil(`private PostgreSQL on ${this.port}`, 30_000, async () => {
      const client = new Client({ connectionString: this.adminUrl, connectionTimeoutMillis: 1000 });
      await client.connect();
      await client.end();
    });
  }

  /** `fast` ends every session and shuts down cleanly; `immediate` is a crash (recovery on start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  async dispose(): Promise<void> {
    this.forget();
    await this.pg('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private command(command: string, args: string[]): [string, string[]] {
    const binary = join(PG_BIN, command);
    return userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
  }

  private async pg(command: string, args: string[]): Promise<void> {
    const [file, argv] = this.command(command, args);
    try {
      await run(file, argv, { cwd: this.dir, timeout: 90_000 });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new Error(`${command} ${args.join(' ')} failed: ${stderr || stdout || (error as Error).message}`, { cause: error });
    }
  }
}
