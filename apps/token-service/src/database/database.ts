import { Logger } from '@nestjs/common';
import { ensureDatabaseExists, isDatabaseUnavailable, migrateUnderLock, whenDatabaseReachable } from '@waitpoints/platform';
import { Pool, PoolClient, QueryConfig } from 'pg';
import { DataSource } from 'typeorm';
import { tokenServiceMigrations } from '../migrations';

/**
 * The token-service's one way to talk to PostgreSQL: a `pg` pool. TypeORM runs the migrations
 * at start (and nothing else); every read and write after that goes through `Sql`.
 */

/** A statement with a name is parsed and planned once per pooled connection, then reused. */
export interface SqlStatement {
  name?: string;
  text: string;
  values?: unknown[];
}

/** Something statements run on: the pool (each statement its own transaction) or one transaction. */
export interface Sql {
  // Rows are whatever the statement selects; callers name the shape they read.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  query<R = any>(statement: SqlStatement | string, values?: unknown[]): Promise<R[]>;
}

export interface DatabaseOptions {
  url: string;
  poolSize: number;
  applicationName?: string;
  /**
   * Longest a read (`Database.reads`) may run before PostgreSQL cancels it (SQLSTATE 57014,
   * see isStatementTimeout). Set below the callers' NATS request timeout, so a slow query is
   * answered with a clear error instead of the caller timing out. Unset: reads are not bounded.
   */
  readStatementTimeoutMs?: number;
}

export const MIGRATIONS_TABLE = 'typeorm_migrations';

export class Database implements Sql {
  /**
   * Where the queries of the read side (lists, single tokens, the dashboard's counts) run: a
   * pool of its own whose sessions have the read statement timeout, so a write is never cut
   * short by it. Without a read timeout, the main pool.
   */
  readonly reads: Sql;

  private constructor(
    readonly pool: Pool,
    private readonly readPool?: Pool,
  ) {
    this.reads = readPool ? { query: (statement, values) => runOn(readPool, statement, values) } : this;
  }

  static connect(options: DatabaseOptions): Database {
    const pool = newPool(options, options.poolSize);
    const readPool =
      options.readStatementTimeoutMs === undefined
        ? undefined
        : newPool(options, Math.max(2, Math.ceil(options.poolSize / 2)), options.readStatementTimeoutMs);
    return new Database(pool, readPool);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async query<R = any>(statement: SqlStatement | string, values?: unknown[]): Promise<R[]> {
    return runOn(this.pool, statement, values);
  }

  /** Runs `work` in one READ COMMITTED transaction on one connection; rolls back on any error. */
  async transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        const result = await work(onClient(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  /** One connection for a while (a snapshot, an advisory lock); released, or dropped after an error. */
  async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let failure: Error | undefined;
    try {
      return await work(client);
    } catch (error) {
      // A connection that failed mid-transaction may be in any state: do not hand it out again.
      if (isDatabaseUnavailable(error)) failure = error as Error;
      throw error;
    } finally {
      client.release(failure);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.readPool?.end()]);
  }
}

/** PostgreSQL cancelled the statement (57014 query_canceled): here, a read ran past its statement timeout. */
export function isStatementTimeout(error: unknown): boolean {
  return (error as { code?: unknown })?.code === '57014';
}

function newPool(options: DatabaseOptions, max: number, statementTimeoutMs?: number): Pool {
  const pool = new Pool({
    connectionString: options.url,
    max,
    application_name: options.applicationName ?? 'waitpoints-token-service',
    // A session left idle in a transaction pins xmin and stalls the outbox; never let one linger.
    idle_in_transaction_session_timeout: 30_000,
    // The hot tables live in memory (or on SSD): an index lookup costs about what a sequential
    // page read does. With PostgreSQL's default of 4, prepared statements' generic plans
    // (which assume ten rows per batch) chose sequential scans of waitpoint_tokens while the
    // table had a few thousand rows. 1.1 is the usual setting for SSDs.
    options: '-c random_page_cost=1.1',
    ...(statementTimeoutMs === undefined ? {} : { statement_timeout: statementTimeoutMs }),
  });
  // An idle client that loses its connection (PostgreSQL restarted) must not crash the process.
  pool.on('error', (error) => new Logger('Database').warn(`idle PostgreSQL connection lost: ${error.message}`));
  return pool;
}

async function runOn<R>(pool: Pool, statement: SqlStatement | string, values?: unknown[]): Promise<R[]> {
  const result = await pool.query(toQueryConfig(statement, values));
  return result.rows as R[];
}

export function onClient(client: PoolClient): Sql {
  return {
    query: async <R>(statement: SqlStatement | string, values?: unknown[]) =>
      (await client.query(toQueryConfig(statement, values))).rows as R[],
  };
}

function toQueryConfig(statement: SqlStatement | string, values?: unknown[]): QueryConfig {
  if (typeof statement === 'string') return { text: statement, values };
  return { name: statement.name, text: statement.text, values: statement.values ?? values };
}

/**
 * How a failed statement is handled, decided in one place:
 * - `lost-race`: a unique key (a request or idempotency key) was taken by a concurrent command;
 *   nothing was written, and deciding again from a fresh read finds the winner;
 * - `transient`: a deadlock or serialization failure rolled the transaction back; try again;
 * - `refused`: PostgreSQL refused the statement (it has an SQLSTATE): nothing was written, and
 *   a batch can be retried one command at a time so one bad command fails alone;
 * - `unknown`: anything else (a dropped connection): the outcome is unknown, report it.
 */
export type FailureKind = 'lost-race' | 'transient' | 'refused' | 'unknown';

export function classifyFailure(error: unknown): FailureKind {
  if (isDatabaseUnavailable(error)) return 'unknown';
  const code = (error as { code?: unknown })?.code;
  if (code === '23505') return 'lost-race';
  if (code === '40P01' || code === '40001') return 'transient';
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return 'refused';
  return 'unknown';
}

/** Rounds a command may lose to concurrent writers (or deadlocks) before it fails. */
export const MAX_ATTEMPTS = 5;

/** Creates the database if needed, migrates it under an advisory lock, and opens the pool. */
export function openDatabase(options: DatabaseOptions): Promise<Database> {
  // A database that is still starting (or restarting) is waited for, not a reason to exit.
  return whenDatabaseReachable(
    'token-service database',
    async () => {
      await ensureDatabaseExists(options.url);
      await migrate(options.url);
      return Database.connect(options);
    },
    { log: (message) => new Logger('TokenServiceDatabase').warn(message) },
  );
}

export function migrationSource(url: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    migrations: tokenServiceMigrations,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: 2, application_name: 'waitpoints-token-service-migrations' },
  });
}

async function migrate(url: string): Promise<void> {
  const source = migrationSource(url);
  await source.initialize();
  try {
    await migrateUnderLock(source, 'waitpoints:migrations');
  } finally {
    await source.destroy().catch(() => undefined);
  }
}

/** The migration names this build knows (readiness compares them with the migrations table). */
export const knownMigrationNames = (): string[] => tokenServiceMigrations.map((Migration) => new Migration().name);
