import { ensureDatabaseExists, migrateUnderLock } from '@waitpoints/platform';
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

export async function openDatabase(options: DatabaseOptions): Promise<DataSource> {
  await ensureDatabaseExists(options.url);
  const dataSource = createDataSource(options);
  await dataSource.initialize();
  await migrateUnderLock(dataSource, 'waitpoints:migrations');
  return dataSource;
}
