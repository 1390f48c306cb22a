import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { schedulerMigrations } from './migrations';

export interface SchedulerDatabaseOptions {
  url: string;
  poolSize: number;
}

/**
 * The scheduler shares the token-service's database by default but owns its tables and its
 * migrations table, so either service can start first and neither migrates the other.
 */
export function createSchedulerDataSource(options: SchedulerDatabaseOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    migrations: schedulerMigrations,
    migrationsTableName: 'scheduler_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: ['error'],
    extra: {
      max: options.poolSize,
      idle_in_transaction_session_timeout: 30_000,
      application_name: 'waitpoints-scheduler',
    },
  });
}

/** Creates the database when it does not exist yet (the scheduler may start before the token-service). */
async function ensureDatabaseExists(databaseUrl: string): Promise<void> {
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
        // 42P04: created meanwhile by another service starting at the same moment.
        if ((error as { code?: string }).code !== '42P04') throw error;
      });
    }
  } finally {
    await admin.end();
  }
}

/** Opens the pool and runs pending migrations under an advisory lock (instances may start together). */
export async function openSchedulerDatabase(options: SchedulerDatabaseOptions): Promise<DataSource> {
  await ensureDatabaseExists(options.url);
  const dataSource = createSchedulerDataSource(options);
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.query(`SELECT pg_advisory_lock(hashtext('waitpoints:scheduler-migrations'))`);
    await dataSource.runMigrations({ transaction: 'each' });
  } catch (error) {
    await runner.release();
    await dataSource.destroy();
    throw error;
  }
  await runner.query(`SELECT pg_advisory_unlock(hashtext('waitpoints:scheduler-migrations'))`).catch(() => undefined);
  await runner.release();
  return dataSource;
}
