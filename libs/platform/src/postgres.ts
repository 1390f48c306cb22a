import { Client } from 'pg';
import { DataSource } from 'typeorm';

/**
 * Database plumbing shared by the services that own tables (token-service, scheduler).
 * Each owns its own migrations; both may start first on a fresh machine.
 */

/** Creates the database named in the URL when it does not exist yet. */
export async function ensureDatabaseExists(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL "${databaseUrl}" names no database`);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((error) => {
        // Created meanwhile by another service or instance starting at the same moment: 42P04,
        // or 23505 when both inserts reach pg_database's unique index together.
        const code = (error as { code?: string }).code;
        if (code !== '42P04' && code !== '23505') throw error;
      });
    }
  } finally {
    await admin.end();
  }
}

/**
 * Runs pending migrations; an advisory lock keeps instances starting together from racing.
 *
 * The lock is polled with pg_try_advisory_lock rather than awaited with pg_advisory_lock: a
 * waiting pg_advisory_lock statement holds a snapshot, and a migration that builds an index
 * CONCURRENTLY waits for every older snapshot to end. The lock holder's migration would then wait
 * on the waiter, which waits on the holder: a deadlock PostgreSQL cannot see (one side of it is
 * in our process), seen as two token-services starting together and never answering.
 */
export async function migrateUnderLock(
  dataSource: DataSource,
  lockName: string,
  { pollMs = 100 }: { pollMs?: number } = {},
): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  let locked = false;
  try {
    for (;;) {
      const [row] = (await runner.query(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [lockName])) as { locked: boolean }[];
      if (row.locked) break;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    locked = true;
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    if (locked) await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [lockName]).catch(() => undefined);
    await runner.release();
  }
}

/** SQLSTATE classes and codes that mean "the server is not there right now", not "the query is wrong". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-4])/; // connection exception, insufficient resources, shutting down / starting up
const UNAVAILABLE_NODE_CODE = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH)$/;
const UNAVAILABLE_MESSAGE =
  /Connection terminated|connection timeout|Client has encountered a connection error|Client was closed|terminating connection/i;
/** TypeORM releases a transaction's connection when the connection errors; the next query then fails with these. */
const RELEASED_BY_CONNECTION_ERROR = /^QueryRunner(Provider)?AlreadyReleasedError$/;

/**
 * True when a failure comes from PostgreSQL being unreachable (restarting, stopped, network),
 * whatever layer reports it (pg, pg-pool or a TypeORM wrapper). Callers answer "try again"
 * instead of "internal error"; the pool reconnects on its own once the server is back.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const { code, message, driverError, cause } = current as {
      code?: unknown;
      message?: unknown;
      driverError?: unknown;
      cause?: unknown;
    };
    if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_NODE_CODE.test(code))) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
    if (current instanceof Error && RELEASED_BY_CONNECTION_ERROR.test(current.name)) return true;
    if (current instanceof AggregateError && current.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
    current = driverError ?? cause;
  }
  return false;
}

/**
 * Runs a startup step, retrying while PostgreSQL is unreachable (a database that starts after
 * the app, or restarts while it boots), for at most `timeoutMs`. Other errors fail at once.
 */
export async function whenDatabaseReachable<T>(
  what: string,
  step: () => Promise<T>,
  { timeoutMs = 60_000, log = (message: string) => console.warn(message) }: { timeoutMs?: number; log?: (message: string) => void } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastLogAt = 0;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (!isDatabaseUnavailable(error) || Date.now() > deadline) throw error;
      if (Date.now() - lastLogAt > 5_000) {
        lastLogAt = Date.now();
        log(`${what}: PostgreSQL is unreachable (${(error as Error).message}); retrying for up to ${Math.round(timeoutMs / 1000)} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
