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
        // 42P04: created meanwhile by another service or instance starting at the same moment.
        if ((error as { code?: string }).code !== '42P04') throw error;
      });
    }
  } finally {
    await admin.end();
  }
}

/** Runs pending migrations; an advisory lock keeps instances starting together from racing. */
export async function migrateUnderLock(dataSource: DataSource, lockName: string): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(`SELECT pg_advisory_lock(hashtext($1))`, [lockName]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [lockName]).catch(() => undefined);
    await runner.release();
  }
}
