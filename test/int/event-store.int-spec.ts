import { randomUUID } from 'node:crypto';
import { withTimeout } from '@waitpoints/platform';
import { TokenEvent } from '@waitpoints/contracts';
import { Database, openDatabase } from '../../apps/token-service/src/database/database';
import { appendToStreams, readStreams, StreamAppend } from '../../apps/token-service/src/event-store/event-store';
import { tokenServiceMigrations } from '../../apps/token-service/src/migrations';
import { dropDatabase, requirePostgres, testDatabaseUrl, uniqueRunName } from '../support/services';

const metadata = { correlationId: 'corr-1', actor: { type: 'api_key' as const, id: 'dev' } };
const created = (tokenId: string, extra: Record<string, string> = {}): TokenEvent => ({
  type: 'TokenCreated',
  data: { tokenId, environment: 'dev', timeoutAt: new Date().toISOString(), tags: [], createdAt: new Date().toISOString(), ...extra },
});
const completed = (tokenId: string): TokenEvent => ({
  type: 'TokenCompleted',
  data: { tokenId, environment: 'dev', outputType: 'application/json', channel: 'api', completedAt: new Date().toISOString() },
});
const append = (tokenId: string, expectedVersion: number, event: TokenEvent): StreamAppend => ({
  streamId: `token-${tokenId}`,
  expectedVersion,
  eventId: randomUUID(),
  event,
  metadata,
});

describe('event store on PostgreSQL', () => {
  let db: Database;
  let databaseUrl: string;

  beforeAll(async () => {
    await requirePostgres();
    databaseUrl = testDatabaseUrl(uniqueRunName());
    db = await openDatabase({ url: databaseUrl, poolSize: 5 });
  });

  afterAll(async () => {
    await db?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  it('creates the database and runs migrations once, even when opened again', async () => {
    const again = await openDatabase({ url: databaseUrl, poolSize: 2 });
    const migrations = await again.query<{ name: string }>(`SELECT name FROM typeorm_migrations ORDER BY id`);
    await again.close();
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
      await Promise.all(opened.map((database) => database.close()));
      expect(count).toBe(tokenServiceMigrations.length);
    } finally {
      await dropDatabase(freshUrl);
    }
  });

  it('appends events with consecutive versions and metadata, projects them, and reads them back in order', async () => {
    const id = randomUUID();
    const first = await appendToStreams(db, [append(id, 0, created(id))]);
    const second = await appendToStreams(db, [append(id, 1, completed(id))]);
    expect(first.stored[0].streamVersion).toBe(1);
    expect(second.stored[0].streamVersion).toBe(2);
    expect(BigInt(second.stored[0].globalPosition)).toBeGreaterThan(BigInt(first.stored[0].globalPosition));

    const { events, version } = (await readStreams(db, [`token-${id}`])).get(`token-${id}`)!;
    expect(version).toBe(2);
    expect(events.map((e) => e.type)).toEqual(['TokenCreated', 'TokenCompleted']);
    expect(events[0]).toMatchObject({ schemaVersion: 1, metadata, data: { tokenId: id } });
    expect(events[0].eventId).toMatch(/^[0-9a-f-]{36}$/);
    // The projection was written by the same statement.
    const [row] = await db.query(`SELECT status, version, completed_by FROM waitpoint_tokens WHERE id = $1`, [id]);
    expect(row).toEqual({ status: 'COMPLETED', version: 2, completed_by: 'api' });
  });

  it('appends to many streams in one statement, skipping (not failing) a stream that moved', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await appendToStreams(db, [append(a, 0, created(a)), append(b, 0, created(b))]);
    await appendToStreams(db, [append(b, 1, completed(b))]);
    // b is at version 2 now: an append expecting 1 lost its race; a's goes through.
    const result = await appendToStreams(db, [append(a, 1, completed(a)), append(b, 1, completed(b))]);
    expect(result.stored.map((e) => e.streamId)).toEqual([`token-${a}`]);
    expect(result.lostStreamIds).toEqual([`token-${b}`]);
    expect((await readStreams(db, [`token-${b}`])).get(`token-${b}`)!.version).toBe(2);
  });

  it('lets exactly one of two racing writers append at a version', async () => {
    const id = randomUUID();
    await appendToStreams(db, [append(id, 0, created(id))]);
    const results = await Promise.all([
      appendToStreams(db, [append(id, 1, completed(id))]),
      appendToStreams(db, [append(id, 1, completed(id))]),
    ]);
    expect(results.map((r) => r.stored.length).sort()).toEqual([0, 1]);
    expect((await readStreams(db, [`token-${id}`])).get(`token-${id}`)!.version).toBe(2);
  });

  it('fails the whole append with a unique violation when a create cannot take its idempotency key', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    const key = { idempotencyKey: `key-${a}`, idempotencyKeyExpiresAt: new Date(Date.now() + 60_000).toISOString() };
    await appendToStreams(db, [append(a, 0, created(a, key))]);
    await expect(appendToStreams(db, [append(c, 0, created(c)), append(b, 0, created(b, key))])).rejects.toMatchObject({ code: '23505' });
    // Nothing of the failed statement was written, not even the other command's token.
    expect(await readStreams(db, [`token-${b}`, `token-${c}`])).toEqual(new Map());
  });

  it('passes an expired idempotency key to the next token that is created with it', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const expired = { idempotencyKey: `key-${a}`, idempotencyKeyExpiresAt: new Date(Date.now() - 1_000).toISOString() };
    await appendToStreams(db, [append(a, 0, created(a, expired))]);
    const live = { idempotencyKey: `key-${a}`, idempotencyKeyExpiresAt: new Date(Date.now() + 60_000).toISOString() };
    await appendToStreams(db, [append(b, 0, created(b, live))]);
    const [row] = await db.query(`SELECT token_id FROM waitpoint_idempotency_keys WHERE idempotency_key = $1`, [`key-${a}`]);
    expect(row.token_id).toBe(b);
  });

  it('is append-only: stored events can be neither changed nor deleted', async () => {
    const id = randomUUID();
    await appendToStreams(db, [append(id, 0, created(id))]);
    await expect(db.query(`UPDATE es_events SET event_type = 'X' WHERE stream_id = $1`, [`token-${id}`])).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM es_events WHERE stream_id = $1`, [`token-${id}`])).rejects.toThrow(/append-only/);
  });

  it('stamps every event of one append with one transaction id, the key of gap-free reading', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await appendToStreams(db, [append(a, 0, created(a)), append(b, 0, created(b))]);
    const rows = await db.query(`SELECT DISTINCT transaction_id::text FROM es_events WHERE stream_id = ANY($1)`, [
      [`token-${a}`, `token-${b}`],
    ]);
    expect(rows).toHaveLength(1);
  });
});
