import { Logger } from '@nestjs/common';
import { ensureDatabaseExists, migrateUnderLock, whenDatabaseReachable } from '@waitpoints/platform';
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

/** Opens the pool and runs pending migrations under an advisory lock (instances may start together). */
export function openSchedulerDatabase(options: SchedulerDatabaseOptions): Promise<DataSource> {
  // A database that is still starting (or restarting) is waited for, not a reason to exit.
  return whenDatabaseReachable(
    'scheduler database',
    async () => {
      await ensureDatabaseExists(options.url);
      const dataSource = createSchedulerDataSource(options);
      try {
        await dataSource.initialize();
        await migrateUnderLock(dataSource, 'waitpoints:scheduler-migrations');
      } catch (error) {
        if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
        throw error;
      }
      return dataSource;
    },
    { log: (message) => new Logger('SchedulerDatabase').warn(message) },
  );
}
