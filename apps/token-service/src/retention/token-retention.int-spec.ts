import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageMetadata, TOKEN_STATUSES, TokenStatus, tokenStreamId } from '@waitpoints/contracts';
import { DataSource } from 'typeorm';
import { ensureDatabaseExists } from '@waitpoints/platform';
import { Database, MIGRATIONS_TABLE, openDatabase } from '../database/database';
import { tokenServiceMigrations } from '../migrations';
import { TokenRetention1766016000000 } from '../migrations/1766016000000-TokenRetention';
import { TokenQueries } from '../projections/token-queries';
import { TokenCommandHandler } from '../commands/token-command-handler';
import { Clock, ulidTokenIds } from '../commands/clock';
import { TokenRetentionPolicy } from '../config';
import { dropDatabase, requirePostgres, testDatabaseUrl, uniqueRunName } from '../../../../test/support/services';
import { ArchiveStore, FileSystemArchiveStore } from './archive-store';
import { ARCHIVED_EVENT_COLUMNS, ArchivedEvent, EventArchive, manifestKeyOf } from './event-archive';
import { restorePeriod } from './archive-restore';
import { runRetentionCommand } from './retention-cli';
import { TokenRetention, TokenRetentionOptions } from './token-retention';

const metadata: MessageMetadata = { correlationId: 'retention-spec', actor: { type: 'api_key', id: 'dev' } };
const SUBSCRIBER = 'jetstream:retention-spec';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Every terminal status the domain knows, so a status added later is covered here too. */
const TERMINAL_STATUSES = TOKEN_STATUSES.filter((status): status is Exclude<TokenStatus, 'WAITING'> => status !== 'WAITING');

/** A clock the spec moves: tokens finish "days ago" without waiting. */
class ManualClock implements Clock {
  constructor(private at = new Date('2026-11-01T10:00:00.000Z')) {}
  now = () => new Date(this.at);
  advance(ms: number) {
    this.at = new Date(this.at.getTime() + ms);
  }
}

describe('token retention (finished tokens leave the hot tables after TOKEN_RETENTION)', () => {
  let db: Database;
  let databaseUrl: string;
  let clock: ManualClock;
  let handler: TokenCommandHandler;
  let archiveDir: string;
  const queries = new TokenQueries();

  beforeAll(async () => {
    await requirePostgres();
    databaseUrl = testDatabaseUrl(uniqueRunName());
    db = await openDatabase({ url: databaseUrl, poolSize: 8 });
  });

  beforeEach(async () => {
    // Each spec starts from empty tables and its own clock and archive.
    await db.query(`ALTER TABLE es_events DISABLE TRIGGER es_events_append_only`);
    await db.query(`TRUNCATE es_events, es_checkpoints, waitpoint_tokens, waitpoint_idempotency_keys, waitpoint_request_keys`);
    await db.query(`ALTER TABLE es_events ENABLE TRIGGER es_events_append_only`);
    clock = new ManualClock();
    handler = new TokenCommandHandler(db, queries, clock, ulidTokenIds(), () => undefined, { maxBatchSize: 100, maxInFlight: 4 });
    archiveDir = await mkdtemp(join(tmpdir(), 'waitpoints-archive-'));
  });

  afterEach(async () => {
    await rm(archiveDir, { recursive: true, force: true });
  });

  afterAll(async () => {
    await db?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  const policy = (defaultMs: number | undefined, overrides: Record<string, number | undefined> = {}): TokenRetentionPolicy => ({
    defaultMs,
    overrides: new Map(Object.entries(overrides)),
  });
  const retention = (options: Partial<TokenRetentionOptions> = {}, on: Database = db) =>
    new TokenRetention(on, { policy: policy(DAY), outboxSubscriberId: SUBSCRIBER, batchSize: 100, intervalMs: 60_000, clock, ...options });

  const create = async (options: { environment?: string; idempotencyKey?: string; requestKey?: string } = {}) =>
    (
      await handler.create({
        environment: options.environment ?? 'dev',
        timeout: { afterMs: 30 * DAY },
        tags: ['retention'],
        idempotencyKey: options.idempotencyKey,
        idempotencyKeyTTLMs: options.idempotencyKey ? 7 * DAY : 0,
        requestIdempotencyKey: options.requestKey,
        metadata,
      })
    ).token.id;

  /** Finishes a token with the given terminal status, through the decider like any caller. */
  const finish = async (tokenId: string, status: Exclude<TokenStatus, 'WAITING'>, environment = 'dev') => {
    const command = { tokenId, environment, metadata };
    const result =
      status === 'COMPLETED'
        ? await handler.complete({ ...command, output: '{"ok":true}', outputType: 'application/json', channel: 'api' })
        : status === 'CANCELLED'
          ? await handler.cancel(command)
          : status === 'REJECTED'
            ? await handler.reject({ ...command, error: { message: 'no' }, channel: 'api' })
            : await handler.timeout({ ...command, force: true });
    expect(result).toMatchObject({ status, changed: true });
  };

  /** The outbox relay published everything stored so far: its checkpoint is at the last event. */
  const publishEverything = () =>
    db.query(
      `INSERT INTO es_checkpoints (subscriber_id, last_transaction_id, last_global_position)
       SELECT $1, transaction_id, global_position FROM es_events ORDER BY transaction_id DESC, global_position DESC LIMIT 1
       ON CONFLICT (subscriber_id) DO UPDATE
         SET last_transaction_id = EXCLUDED.last_transaction_id, last_global_position = EXCLUDED.last_global_position`,
      [SUBSCRIBER],
    );

  const eventRows = (tokenIds: string[]) =>
    db.query<ArchivedEvent>(
      `SELECT ${ARCHIVED_EVENT_COLUMNS} FROM es_events WHERE stream_id = ANY($1::text[]) ORDER BY es_events.global_position`,
      [tokenIds.map(tokenStreamId)],
    );
  const count = async (table: string, where: string, values: unknown[]) =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, values))[0].n;
  const isGone = async (tokenId: string) =>
    (await queries.get(db, 'dev', tokenId)) === undefined && (await count('es_events', 'stream_id = $1', [tokenStreamId(tokenId)])) === 0;
  const listed = async () => (await queries.list(db, { environment: 'dev', pageSize: 100 })).tokens.map((t) => t.id);

  it('removes finished tokens of every terminal status past the retention: events, row and key reservations', async () => {
    const finished: string[] = [];
    for (const [i, status] of TERMINAL_STATUSES.entries()) {
      const tokenId = await create({ idempotencyKey: `order-${i}`, requestKey: `request-${i}` });
      await finish(tokenId, status);
      finished.push(tokenId);
    }
    clock.advance(DAY + 1_000);
    await publishEverything();

    const pass = await retention().runPass();

    expect(pass).toMatchObject({ ran: true, removed: TERMINAL_STATUSES.length, archived: 0 });
    for (const tokenId of finished) expect(await isGone(tokenId)).toBe(true);
    expect(await count('waitpoint_idempotency_keys', 'token_id = ANY($1::text[])', [finished])).toBe(0);
    expect(await count('waitpoint_request_keys', 'token_id = ANY($1::text[])', [finished])).toBe(0);
    expect(await listed()).toEqual([]);
  });

  it('never removes a WAITING token, however old, nor a token finished within the retention', async () => {
    const waiting = await create({ idempotencyKey: 'still-waiting' });
    const old = await create();
    await finish(old, 'COMPLETED');
    clock.advance(DAY + 1_000);
    const recent = await create();
    await finish(recent, 'CANCELLED');
    clock.advance(10 * DAY);
    const justFinished = await create();
    await finish(justFinished, 'COMPLETED');
    await publishEverything();

    await retention().runPass();

    expect(await isGone(old)).toBe(true);
    expect(await isGone(recent)).toBe(true);
    expect(await queries.get(db, 'dev', waiting)).toMatchObject({ status: 'WAITING' });
    expect(await queries.get(db, 'dev', justFinished)).toMatchObject({ status: 'COMPLETED' });
    expect(await count('waitpoint_idempotency_keys', 'token_id = $1', [waiting])).toBe(1);
    expect((await listed()).sort()).toEqual([waiting, justFinished].sort());
  });

  it('keeps each environment as long as its override says (off: forever)', async () => {
    const dev = await create({ environment: 'dev' });
    const prod = await create({ environment: 'prod' });
    const staging = await create({ environment: 'staging' });
    await finish(dev, 'COMPLETED', 'dev');
    await finish(prod, 'COMPLETED', 'prod');
    await finish(staging, 'COMPLETED', 'staging');
    clock.advance(2 * DAY);
    await publishEverything();

    await retention({ policy: policy(30 * DAY, { dev: HOUR, staging: undefined, prod: DAY }) }).runPass();

    expect(await queries.get(db, 'dev', dev)).toBeUndefined();
    expect(await queries.get(db, 'prod', prod)).toBeUndefined();
    expect(await queries.get(db, 'staging', staging)).toMatchObject({ status: 'COMPLETED' });
  });

  it('never removes an event the outbox has not published (after the relay checkpoint)', async () => {
    const published = await create();
    await finish(published, 'COMPLETED');
    await publishEverything();
    const unpublished = await create();
    await finish(unpublished, 'COMPLETED');
    clock.advance(2 * DAY);

    await retention().runPass();
    expect(await isGone(published)).toBe(true);
    expect(await queries.get(db, 'dev', unpublished)).toMatchObject({ status: 'COMPLETED' });

    // Only its creation published: still kept.
    await db.query(
      `UPDATE es_checkpoints SET (last_transaction_id, last_global_position) =
         (SELECT transaction_id, global_position FROM es_events WHERE stream_id = $2 AND stream_version = 1)
       WHERE subscriber_id = $1`,
      [SUBSCRIBER, tokenStreamId(unpublished)],
    );
    await retention().runPass();
    expect(await queries.get(db, 'dev', unpublished)).toMatchObject({ status: 'COMPLETED' });

    await publishEverything();
    await retention().runPass();
    expect(await isGone(unpublished)).toBe(true);
  });

  it('removes nothing before the outbox relay has a checkpoint at all', async () => {
    const tokenId = await create();
    await finish(tokenId, 'COMPLETED');
    clock.advance(2 * DAY);
    expect(await retention().runPass()).toMatchObject({ ran: true, removed: 0 });
    expect(await queries.get(db, 'dev', tokenId)).toBeDefined();
  });

  it('two instances in parallel remove (and archive) each token exactly once', async () => {
    const tokenIds = await Promise.all(Array.from({ length: 250 }, () => create()));
    await Promise.all(tokenIds.map((tokenId) => finish(tokenId, 'COMPLETED')));
    clock.advance(2 * DAY);
    await publishEverything();
    const archive = new EventArchive(new FileSystemArchiveStore(archiveDir));
    const other = await openDatabase({ url: databaseUrl, poolSize: 4 });
    try {
      const instances = [retention({ batchSize: 40, archive }), retention({ batchSize: 40, archive }, other)];
      let removed = 0;
      // Each runs passes until nothing is left, at the same time.
      await Promise.all(
        instances.map(async (instance) => {
          for (let round = 0; round < 50; round++) {
            const pass = await instance.runPass();
            removed += pass.removed;
            if (pass.ran && pass.removed === 0) return;
          }
        }),
      );
      expect(removed).toBe(250);
      for (const tokenId of tokenIds) expect(await isGone(tokenId)).toBe(true);
      const archivedIds = (await Promise.all((await archive.manifests()).map((m) => archive.readSegment(m))))
        .flat()
        .filter((event) => event.event_type === 'TokenCreated')
        .map((event) => event.stream_id);
      expect(archivedIds).toHaveLength(250);
      expect(new Set(archivedIds).size).toBe(250);
    } finally {
      await other.close();
    }
  });

  it('spaces its batches to stay under the most tokens per second (RETENTION_MAX_RATE)', async () => {
    const finished: string[] = [];
    for (let i = 0; i < 30; i++) {
      const tokenId = await create();
      await finish(tokenId, 'COMPLETED');
      finished.push(tokenId);
    }
    clock.advance(DAY + 1_000);
    await publishEverything();

    // 30 tokens in batches of 10 at most 100 a second: at least 0.2 s between the first batch and the last.
    const pass = await retention({ batchSize: 10, maxRate: 100 }).runPass();

    expect(pass.removed).toBeGreaterThanOrEqual(30);
    expect(pass.durationMs).toBeGreaterThanOrEqual(200);
    for (const tokenId of finished) expect(await isGone(tokenId)).toBe(true);
  });

  it("an instance's memory of a token it saw waiting expires before the token can be removed: no append to removed history", async () => {
    // Instance A creates the token and remembers it WAITING; instance B finishes it. Without the
    // expiry, A would append a completion at version 2 to a stream whose events were removed.
    const a = new TokenCommandHandler(db, queries, clock, ulidTokenIds(), () => undefined, { maxBatchSize: 1, maxInFlight: 1 }, 50);
    const tokenId = (await a.create({ environment: 'dev', timeout: { afterMs: 30 * DAY }, tags: [], idempotencyKeyTTLMs: 0, metadata }))
      .token.id;
    await finish(tokenId, 'COMPLETED');
    clock.advance(2 * DAY);
    await publishEverything();
    await retention().runPass();
    expect(await isGone(tokenId)).toBe(true);
    // The module gives half the shortest retention; here 50 ms, past by now.
    await new Promise((resolve) => setTimeout(resolve, 100));

    await expect(
      a.complete({ tokenId, environment: 'dev', output: '{}', outputType: 'application/json', channel: 'api', metadata }),
    ).rejects.toThrow(/not found/i);
    expect(await eventRows([tokenId])).toEqual([]);
  });

  describe('with ARCHIVE_DIR', () => {
    it('writes a verified segment and its manifest per period, holding exactly the rows es_events held', async () => {
      const tokenIds = [await create({ idempotencyKey: 'k1' }), await create(), await create()];
      for (const tokenId of tokenIds) await finish(tokenId, 'COMPLETED');
      const finishedAt = clock.now();
      clock.advance(2 * DAY);
      await publishEverything();
      const before = await eventRows(tokenIds);
      const archive = new EventArchive(new FileSystemArchiveStore(archiveDir));

      expect(await retention({ archive }).runPass()).toMatchObject({ removed: 3, archived: 3 });

      const [manifest, ...more] = await archive.manifests();
      expect(more).toEqual([]);
      const hour = finishedAt.toISOString().slice(0, 13).replace(/[-T]/g, '/');
      const [first, , last] = [...tokenIds].sort();
      expect(manifest.segment).toMatch(new RegExp(`^events/${hour}/[0-9TZ]+-${first}-${last}-[0-9a-f]{12}\\.ndjson\\.gz$`));
      expect(manifest).toMatchObject({
        formatVersion: 1,
        tokenCount: 3,
        eventCount: 6,
        firstTokenId: [...tokenIds].sort()[0],
        lastTokenId: [...tokenIds].sort()[2],
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      const file = await readFile(join(archiveDir, manifest.segment));
      expect(file.length).toBe(manifest.bytes);
      expect(JSON.parse(await readFile(join(archiveDir, manifestKeyOf(manifest.segment)), 'utf8'))).toEqual(manifest);
      // The archived history is what es_events held, column by column.
      expect(await archive.readSegment(manifest)).toEqual(before);
      expect(await eventRows(tokenIds)).toEqual([]);
    });

    it('deletes nothing when the archive cannot be written, and says so', async () => {
      const tokenId = await create();
      await finish(tokenId, 'COMPLETED');
      clock.advance(2 * DAY);
      await publishEverything();
      const failing: ArchiveStore = {
        location: '/nowhere',
        put: () => Promise.reject(new Error('disk full')),
        get: () => Promise.reject(new Error('no such object')),
        list: () => Promise.resolve([]),
        delete: () => Promise.reject(new Error('disk full')),
      };
      const failures: number[] = [];
      const metrics = {
        recordRetentionBatch: () => undefined,
        recordRetentionPass: () => undefined,
        recordArchiveFailure: () => failures.push(1),
      };

      await expect(retention({ archive: new EventArchive(failing), metrics }).runPass()).rejects.toThrow(
        /archiving to \/nowhere failed: disk full/,
      );

      expect(failures).toHaveLength(1);
      expect(await queries.get(db, 'dev', tokenId)).toMatchObject({ status: 'COMPLETED' });
      expect(await eventRows([tokenId])).toHaveLength(2);
    });

    it('gives a batch up when its archive write never finishes: nothing removed, and the next pass archives it', async () => {
      const tokenId = await create();
      await finish(tokenId, 'COMPLETED');
      clock.advance(2 * DAY);
      await publishEverything();
      const disk = new FileSystemArchiveStore(archiveDir);
      // The first read-back never answers (as one was seen to hang); later ones do.
      let hangs = 1;
      const hanging: ArchiveStore = {
        location: disk.location,
        put: (key, body) => disk.put(key, body),
        get: (key) => (hangs-- > 0 ? new Promise<Buffer>(() => undefined) : disk.get(key)),
        list: (p) => disk.list(p),
        delete: (key) => disk.delete(key),
      };
      const archive = new EventArchive(hanging);

      await expect(retention({ archive, archiveWriteDeadlineMs: 200 }).runPass()).rejects.toThrow(/did not finish within 0.2 s/);
      expect(await eventRows([tokenId])).toHaveLength(2);

      await expect(retention({ archive, archiveWriteDeadlineMs: 200 }).runPass()).resolves.toMatchObject({ removed: 1, archived: 1 });
      expect(await eventRows([tokenId])).toHaveLength(0);
      expect((await archive.find(tokenId)).map((event) => event.event_type)).toEqual(['TokenCreated', 'TokenCompleted']);
    });

    it('deletes nothing when a written segment does not read back as written', async () => {
      const tokenId = await create();
      await finish(tokenId, 'COMPLETED');
      clock.advance(2 * DAY);
      await publishEverything();
      const disk = new FileSystemArchiveStore(archiveDir);
      // A store that loses bytes on the way: the checksum check catches it before any delete.
      const lossy: ArchiveStore = {
        location: disk.location,
        put: (key, body) => disk.put(key, body.subarray(0, body.length - 1)),
        get: (key) => disk.get(key),
        list: (p) => disk.list(p),
        delete: (key) => disk.delete(key),
      };

      await expect(retention({ archive: new EventArchive(lossy) }).runPass()).rejects.toThrow(/does not match its manifest/);
      expect(await eventRows([tokenId])).toHaveLength(2);
    });

    it('archive:find prints a removed token, and archive:load restores its period into a fresh database', async () => {
      const tokenId = await create({ idempotencyKey: 'find-me', requestKey: 'req-find-me' });
      const other = await create();
      await finish(tokenId, 'COMPLETED');
      await finish(other, 'CANCELLED');
      const period = clock.now().toISOString().slice(0, 10);
      const rowBefore = await queries.get(db, 'dev', tokenId);
      const eventsBefore = await eventRows([tokenId, other]);
      clock.advance(2 * DAY);
      await publishEverything();
      await retention({ archive: new EventArchive(new FileSystemArchiveStore(archiveDir)) }).runPass();
      expect(await isGone(tokenId)).toBe(true);

      const env = { DATABASE_URL: databaseUrl, ARCHIVE_DIR: archiveDir, LOG_LEVEL: 'silent' };
      const printed: string[] = [];
      expect(await runRetentionCommand(['find', `waitpoint_${tokenId}`], env, (line) => printed.push(line))).toBe(0);
      expect(printed.map((line) => JSON.parse(line) as ArchivedEvent)).toEqual(
        eventsBefore.filter((e) => e.stream_id === tokenStreamId(tokenId)),
      );

      const freshUrl = testDatabaseUrl(uniqueRunName());
      try {
        const loaded: string[] = [];
        expect(await runRetentionCommand(['load', period, '--database-url', freshUrl], env, (line) => loaded.push(line))).toBe(0);
        expect(loaded.join('\n')).toMatch(/Loaded 4 events from 1 segment\(s\) of .*; 0 were already there/);
        const fresh = await openDatabase({ url: freshUrl, poolSize: 2 });
        try {
          expect(await queries.get(fresh, 'dev', tokenId)).toEqual(rowBefore);
          expect(await fresh.query(`SELECT ${ARCHIVED_EVENT_COLUMNS} FROM es_events ORDER BY es_events.global_position`)).toEqual(
            eventsBefore,
          );
          expect(await fresh.query(`SELECT token_id FROM waitpoint_idempotency_keys`)).toEqual([{ token_id: tokenId }]);
          // Loading again skips every event by its id.
          expect(await restorePeriod(fresh, new EventArchive(new FileSystemArchiveStore(archiveDir)), period)).toEqual({
            segments: 1,
            loaded: 0,
            skipped: 4,
          });
        } finally {
          await fresh.close();
        }
      } finally {
        await dropDatabase(freshUrl);
      }
    });

    it('archive:find says so for a token that is not archived', async () => {
      await writeFile(join(archiveDir, 'README'), 'not a segment');
      const printed: string[] = [];
      const env = { DATABASE_URL: databaseUrl, ARCHIVE_DIR: archiveDir };
      expect(await runRetentionCommand(['find', '01jd0000000000000000000000'], env, (line) => printed.push(line))).toBe(1);
      expect(printed).toEqual([`No archived events of token 01jd0000000000000000000000 in ${archiveDir}.`]);
    });
  });

  describe('the es_events trigger', () => {
    const deleteEvents = (tokenId: string, inPass: boolean) =>
      db.transaction(async (sql) => {
        if (inPass) await sql.query(`SET LOCAL waitpoints.retention_pass = 'on'`);
        return sql.query(`DELETE FROM es_events WHERE stream_id = $1`, [tokenStreamId(tokenId)]);
      });

    it('refuses a DELETE outside a retention pass, even of a finished token', async () => {
      const tokenId = await create();
      await finish(tokenId, 'COMPLETED');
      await expect(deleteEvents(tokenId, false)).rejects.toThrow(/es_events is append-only \(DELETE refused: only a retention pass/);
      expect(await eventRows([tokenId])).toHaveLength(2);
    });

    it("refuses a DELETE of a WAITING token's events inside a retention pass", async () => {
      const tokenId = await create();
      await expect(deleteEvents(tokenId, true)).rejects.toThrow(/DELETE refused/);
    });

    it('refuses every UPDATE, inside a retention pass too', async () => {
      const tokenId = await create();
      await finish(tokenId, 'COMPLETED');
      await expect(
        db.transaction(async (sql) => {
          await sql.query(`SET LOCAL waitpoints.retention_pass = 'on'`);
          await sql.query(`UPDATE es_events SET data = '{}' WHERE stream_id = $1`, [tokenStreamId(tokenId)]);
        }),
      ).rejects.toThrow(/es_events is append-only \(UPDATE refused\)/);
    });

    it("allows a retention pass's DELETE of a finished token's events", async () => {
      const tokenId = await create();
      await finish(tokenId, 'REJECTED');
      await deleteEvents(tokenId, true);
      expect(await eventRows([tokenId])).toEqual([]);
    });
  });
});

describe('the TokenRetention migration, on a database the previous migrations created', () => {
  it('lets retention remove a finished token written before it, and still refuses any other DELETE', async () => {
    await requirePostgres();
    const url = testDatabaseUrl(uniqueRunName());
    await ensureDatabaseExists(url);
    const previous = new DataSource({
      type: 'postgres',
      url,
      migrations: tokenServiceMigrations.slice(0, tokenServiceMigrations.indexOf(TokenRetention1766016000000)),
      migrationsTableName: MIGRATIONS_TABLE,
      migrationsTransactionMode: 'each',
    });
    let db: Database | undefined;
    try {
      await previous.initialize();
      await previous.runMigrations();
      // Rows as the previous version wrote them: a finished token, a waiting one, and a published checkpoint.
      const created = (id: string) => ({
        tokenId: id,
        environment: 'dev',
        timeoutAt: '2026-10-02T00:00:00.000Z',
        tags: [],
        createdAt: '2026-10-01T00:00:00.000Z',
      });
      await previous.query(
        `INSERT INTO es_events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata) VALUES
           ('token-01jd00000000000000000000a1', 1, gen_random_uuid(), 'TokenCreated', 1, $1, '{}'),
           ('token-01jd00000000000000000000a1', 2, gen_random_uuid(), 'TokenCompleted', 1, $2, '{}'),
           ('token-01jd00000000000000000000b2', 1, gen_random_uuid(), 'TokenCreated', 1, $3, '{}')`,
        [
          JSON.stringify(created('01jd00000000000000000000a1')),
          JSON.stringify({
            tokenId: '01jd00000000000000000000a1',
            environment: 'dev',
            completedAt: '2026-10-01T01:00:00.000Z',
            channel: 'api',
          }),
          JSON.stringify(created('01jd00000000000000000000b2')),
        ],
      );
      await previous.query(
        `INSERT INTO waitpoint_tokens (id, environment, status, timeout_at, completed_at, created_at, updated_at, version) VALUES
           ('01jd00000000000000000000a1', 'dev', 'COMPLETED', '2026-10-02Z', '2026-10-01T01:00Z', '2026-10-01Z', '2026-10-01T01:00Z', 2),
           ('01jd00000000000000000000b2', 'dev', 'WAITING', '2026-10-02Z', NULL, '2026-10-01Z', '2026-10-01Z', 1)`,
      );
      await previous.query(
        `INSERT INTO es_checkpoints (subscriber_id, last_transaction_id, last_global_position)
         SELECT $1, max(transaction_id), max(global_position) FROM es_events`,
        [SUBSCRIBER],
      );
      await previous.destroy();

      db = await openDatabase({ url, poolSize: 4 });
      const clock = { now: () => new Date('2026-11-30T00:00:00.000Z') };
      const pass = await new TokenRetention(db, {
        policy: { defaultMs: DAY, overrides: new Map() },
        outboxSubscriberId: SUBSCRIBER,
        batchSize: 10,
        intervalMs: 60_000,
        clock,
      }).runPass();

      expect(pass).toMatchObject({ ran: true, removed: 1 });
      expect(await db.query(`SELECT id, status FROM waitpoint_tokens`)).toEqual([{ id: '01jd00000000000000000000b2', status: 'WAITING' }]);
      expect(await db.query(`SELECT stream_id FROM es_events`)).toEqual([{ stream_id: 'token-01jd00000000000000000000b2' }]);
      await expect(db.query(`DELETE FROM es_events`)).rejects.toThrow(/append-only/);
    } finally {
      if (previous.isInitialized) await previous.destroy();
      await db?.close();
      await dropDatabase(url);
    }
  });
});
