import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { withTimeout } from '@waitpoints/platform';
import { TokenEvent } from '@waitpoints/contracts';
import { openDatabase } from '../../apps/token-service/src/event-store/database';
import { ConcurrencyError, EventStore } from '../../apps/token-service/src/event-store/event-store';
import { tokenServiceMigrations } from '../../apps/token-service/src/migrations';
import { dropDatabase, requirePostgres, testDatabaseUrl, uniqueRunName } from '../support/services';

const metadata = { correlationId: 'corr-1', actor: { type: 'api_key' as const, id: 'dev' } };
const created = (tokenId: string): TokenEvent => ({
  type: 'TokenCreated',
  data: { tokenId, environment: 'dev', timeoutAt: new Date().toISOString(), tags: [], createdAt: new Date().toISOString() },
});
const completed = (tokenId: string): TokenEvent => ({
  type: 'TokenCompleted',
  data: { tokenId, environment: 'dev', outputType: 'application/json', channel: 'api', completedAt: new Date().toISOString() },
});

describe('event store on PostgreSQL', () => {
  let db: DataSource;
  let databaseUrl: string;
  const store = new EventStore();

  beforeAll(async () => {
    await requirePostgres();
    databaseUrl = testDatabaseUrl(uniqueRunName());
    db = await openDatabase({ url: databaseUrl, poolSize: 5 });
  });

  afterAll(async () => {
    await db?.destroy();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  it('creates the database and runs migrations once, even when opened again', async () => {
    const again = await openDatabase({ url: databaseUrl, poolSize: 2 });
    const migrations: { name: string }[] = await again.query(`SELECT name FROM typeorm_migrations ORDER BY id`);
    await again.destroy();
    // Each migration recorded exactly once.
    expect(migrations.map((m) => m.name)).toEqual(tokenServiceMigrations.map((migration) => new migration().name));
  });

  it('lets instances starting together on a fresh database all finish migrating (no hidden deadlock)', async () => {
    // The CONCURRENTLY-built index waits for older snapshots; an instance blocked in
    // pg_advisory_lock held one, so two token-services starting together never answered.
    const freshUrl = testDatabaseUrl(uniqueRunName());
    try {
      const opened = await withTimeout(
        Promise.all([1, 2, 3].map(() => openDatabase({ url: freshUrl, poolSize: 2 }))),
        20_000,
        'three instances opening one fresh database',
      );
      const [{ count }] = await opened[0].query(`SELECT count(*)::int AS count FROM typeorm_migrations`);
      await Promise.all(opened.map((dataSource) => dataSource.destroy()));
      expect(count).toBe(tokenServiceMigrations.length);
    } finally {
      await dropDatabase(freshUrl);
    }
  });

  it('appends events with consecutive versions and metadata, and reads them back in order', async () => {
    const stream = `token-${randomUUID()}`;
    const first = await db.transaction((m) => store.append(m, stream, 0, [created('a')], metadata));
    const second = await db.transaction((m) => store.append(m, stream, 1, [completed('a')], metadata));
    expect(first[0].streamVersion).toBe(1);
    expect(second[0].streamVersion).toBe(2);
    expect(BigInt(second[0].globalPosition)).toBeGreaterThan(BigInt(first[0].globalPosition));

    const { events, version } = await store.readStream(db.manager, stream);
    expect(version).toBe(2);
    expect(events.map((e) => e.type)).toEqual(['TokenCreated', 'TokenCompleted']);
    expect(events[0]).toMatchObject({ schemaVersion: 1, metadata, data: { tokenId: 'a' } });
    expect(events[0].eventId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('rejects an append at a stale expected version: one of two racing writers wins', async () => {
    const stream = `token-${randomUUID()}`;
    await db.transaction((m) => store.append(m, stream, 0, [created('b')], metadata));
    const results = await Promise.allSettled([
      db.transaction((m) => store.append(m, stream, 1, [completed('b')], metadata)),
      db.transaction((m) => store.append(m, stream, 1, [completed('b')], metadata)),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason).toBeInstanceOf(ConcurrencyError);
    expect((await store.readStream(db.manager, stream)).version).toBe(2);
  });

  it('is append-only: stored events can be neither changed nor deleted', async () => {
    const stream = `token-${randomUUID()}`;
    await db.transaction((m) => store.append(m, stream, 0, [created('c')], metadata));
    await expect(db.query(`UPDATE es_events SET event_type = 'X' WHERE stream_id = $1`, [stream])).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM es_events WHERE stream_id = $1`, [stream])).rejects.toThrow(/append-only/);
  });

  it('stamps every event with its transaction id, the key of gap-free reading', async () => {
    const stream = `token-${randomUUID()}`;
    await db.transaction((m) => store.append(m, stream, 0, [created('d'), completed('d')], metadata));
    const rows = await db.query(`SELECT DISTINCT transaction_id::text FROM es_events WHERE stream_id = $1`, [stream]);
    expect(rows).toHaveLength(1);
  });
});
