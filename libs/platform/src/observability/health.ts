import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import type { NatsConnection } from 'nats';
import { withTimeout } from '../with-timeout';

/** One readiness check: resolves to terminus' up/down result, never throws. */
export type ReadinessCheck = (indicators: HealthIndicatorService) => Promise<HealthIndicatorResult>;

const CHECK_TIMEOUT_MS = 2_000;

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** What the checks need of a database handle (a pg pool wrapper or a TypeORM DataSource). */
export interface QueryableDatabase {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
  /** TypeORM's DataSource says whether its pool is open; a pool wrapper is open while it exists. */
  readonly isInitialized?: boolean;
}

/** PostgreSQL answers a query on the service's own pool. */
export function databaseReachable(key: string, db: () => QueryableDatabase | undefined): ReadinessCheck {
  return async (indicators) => {
    const check = indicators.check(key);
    try {
      const source = db();
      if (!source || source.isInitialized === false) return check.down({ message: 'the connection pool is not open' });
      await withTimeout(source.query('SELECT 1'), CHECK_TIMEOUT_MS, 'PostgreSQL');
      return check.up();
    } catch (error) {
      return check.down({ message: reason(error) });
    }
  };
}

/** Names of the migrations this build knows that the database has not recorded (read-only). */
export async function pendingMigrations(
  source: QueryableDatabase,
  table: string,
  known: string[],
): Promise<{ applied: number; pending: string[] }> {
  const [{ exists }] = (await source.query(`SELECT to_regclass($1) IS NOT NULL AS exists`, [table])) as { exists: boolean }[];
  const rows = exists ? ((await source.query(`SELECT name FROM "${table.replace(/"/g, '""')}"`)) as { name: string }[]) : [];
  const applied = new Set(rows.map((row) => row.name));
  return { applied: applied.size, pending: known.filter((name) => !applied.has(name)) };
}

/** The migration names a TypeORM DataSource was configured with, and its migrations table. */
export function migrationsOf(source: {
  migrations: { name?: string; constructor: { name: string } }[];
  options: { migrationsTableName?: string };
}): { table: string; known: string[] } {
  return {
    table: source.options.migrationsTableName ?? 'migrations',
    known: source.migrations.map((m) => m.name ?? m.constructor.name),
  };
}

/** Every migration this build knows is recorded in the service's migrations table. */
export function migrationsApplied(
  key: string,
  db: () => QueryableDatabase | undefined,
  migrations: () => { table: string; known: string[] },
): ReadinessCheck {
  return async (indicators) => {
    const check = indicators.check(key);
    try {
      const source = db();
      if (!source) return check.down({ message: 'the connection pool is not open' });
      const { table, known } = migrations();
      const { applied, pending } = await withTimeout(pendingMigrations(source, table, known), CHECK_TIMEOUT_MS, 'PostgreSQL');
      return pending.length === 0 ? check.up({ applied }) : check.down({ message: `${pending.length} migration(s) not applied`, pending });
    } catch (error) {
      return check.down({ message: reason(error) });
    }
  };
}

/** The NATS connection is open and the server answers a round trip (PING/PONG). */
export function natsReachable(
  key: string,
  connection: () => NatsConnection | undefined | Promise<NatsConnection | undefined>,
): ReadinessCheck {
  return async (indicators) => {
    const check = indicators.check(key);
    try {
      const nc = await withTimeout(Promise.resolve(connection()), CHECK_TIMEOUT_MS, 'NATS');
      if (!nc || nc.isClosed()) return check.down({ message: 'not connected' });
      await withTimeout(nc.flush(), CHECK_TIMEOUT_MS, 'NATS');
      return check.up({ server: nc.getServer() });
    } catch (error) {
      return check.down({ message: reason(error) });
    }
  };
}
