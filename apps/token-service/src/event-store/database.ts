import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { tokenServiceMigrations } from '../migrations';

/** Creates the database named in the URL when it does not exist yet (first `npm start`). */
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
        // 42P04: created meanwhile by another instance starting at the same moment.
        if ((error as { code?: string }).code !== '42P04') throw error;
      });
    }
  } finally {
    await admin.end();
  }
}

export interface DatabaseOptions {
  url: string;
  poolSize: number;
}

export function createDataSource(options: DatabaseOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    migrations: tokenServiceMigrations,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: {
      max: options.poolSize,
      // A session left idle in a transaction pins xmin and stalls the outbox; never let one linger.
      idle_in_transaction_session_timeout: 30_000,
      application_name: 'waitpoints-token-service',
    },
  });
}

/** Runs pending migrations; an advisory lock keeps instances starting together from racing. */
export async function migrate(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(`SELECT pg_advisory_lock(hashtext('waitpoints:migrations'))`);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query(`SELECT pg_advisory_unlock(hashtext('waitpoints:migrations'))`).catch(() => undefined);
    await runner.release();
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<DataSource> {
  await ensureDatabaseExists(options.url);
  const dataSource = createDataSource(options);
  await dataSource.initialize();
  await migrate(dataSource);
  return dataSource;
}
