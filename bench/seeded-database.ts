import { Client } from 'pg';
import { ensureDatabaseExists } from '@waitpoints/platform';
import { migrationSource } from '../apps/token-service/src/database/database';
import { seedTokens, skipSeededEventsInOutbox } from './scale-seed';

/**
 * A fresh database `waitpoints_<name>` on the server of `adminUrl`, migrated and seeded with
 * `tokens` tokens of `environment` (bench/scale-seed.ts), its outbox checkpoint moved past them
 * (they are history, not news to publish). bench:scale and bench:retention start their services
 * over it.
 */
export async function seededDatabase(options: {
  adminUrl: string;
  name: string;
  tokens: number;
  environment: string;
  log: (message: string) => void;
}): Promise<{ url: string; seedSeconds: number }> {
  const url = new URL(options.adminUrl);
  url.pathname = `/waitpoints_${options.name}`;
  await ensureDatabaseExists(url.toString());
  const source = migrationSource(url.toString());
  await source.initialize();
  try {
    await source.runMigrations({ transaction: 'each' });
  } finally {
    await source.destroy();
  }
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const started = Date.now();
    await seedTokens(client, {
      environment: options.environment,
      tokens: options.tokens,
      onProgress: (seeded) => seeded % 500_000 === 0 && options.log(`  seeded ${seeded.toLocaleString('en-US')}`),
    });
    await skipSeededEventsInOutbox(client, `jetstream:${options.name}`);
    return { url: url.toString(), seedSeconds: (Date.now() - started) / 1000 };
  } finally {
    await client.end();
  }
}
