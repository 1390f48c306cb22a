import { Logger } from '@nestjs/common';
import { ensureDatabaseExists, migrateUnderLock, whenDatabaseReachable } from '@waitpoints/platform';
import { DataSource } from 'typeorm';
import { tokenServiceMigrations } from '../migrations';

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

export function openDatabase(options: DatabaseOptions): Promise<DataSource> {
  // A database that is still starting (or restarting) is waited for, not a reason to exit.
  return whenDatabaseReachable(
    'token-service database',
    async () => {
      await ensureDatabaseExists(options.url);
      const dataSource = createDataSource(options);
      try {
        await dataSource.initialize();
        await migrateUnderLock(dataSource, 'waitpoints:migrations');
      } catch (error) {
        if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
        throw error;
      }
      return dataSource;
    },
    { log: (message) => new Logger('TokenServiceDatabase').warn(message) },
  );
}
