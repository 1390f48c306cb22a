import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { Client } from 'pg';

/**
 * Integration and e2e tests need the real PostgreSQL and NATS (JetStream). When one is not
 * reachable the test fails with the reason and the command that starts it; it never skips.
 */
export const TEST_PG_ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export async function requirePostgres(): Promise<void> {
  const client = new Client({ connectionString: TEST_PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_PG_ADMIN_URL} (${(error as Error).message}). ` +
        'Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function requireNats(): Promise<void> {
  try {
    const nc = await connect({ servers: TEST_NATS_URL, timeout: 3000 });
    const jsm = await nc.jetstreamManager();
    await jsm.getAccountInfo();
    await nc.close();
  } catch (error) {
    throw new Error(
      `NATS with JetStream is not reachable at ${TEST_NATS_URL} (${(error as Error).message}). Start it: ` +
        'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js ' +
        '-sd /var/lib/nats-server -l /var/log/nats-server.log',
      { cause: error },
    );
  }
}

/** A name unique to this test file's run: its own database and its own subject prefix. */
export function uniqueRunName(): string {
  return `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export function testDatabaseUrl(name: string): string {
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/waitpoints_${name}`;
  return url.toString();
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const client = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export async function deleteStream(streamName: string): Promise<void> {
  const nc = await connect({ servers: TEST_NATS_URL });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(streamName).catch(() => undefined);
  } finally {
    await nc.close();
  }
}
