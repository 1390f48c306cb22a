import { MessageMetadata } from '@waitpoints/contracts';
import { Database, openDatabase } from '../database/database';
import { TokenQueries } from '../projections/token-queries';
import { dropDatabase, requirePostgres, testDatabaseUrl, uniqueRunName } from '../../../../test/support/services';
import { systemClock, ulidTokenIds } from './clock';
import { TokenCommandHandler } from './token-command-handler';

const metadata: MessageMetadata = { correlationId: 'spec', actor: { type: 'api_key', id: 'dev' } };

/** Two token-service instances on one database: each remembers the streams it wrote. */
describe('the write path across instances (remembered state never wins a race it should lose)', () => {
  let db: Database;
  let databaseUrl: string;
  let a: TokenCommandHandler;
  let b: TokenCommandHandler;

  beforeAll(async () => {
    await requirePostgres();
    databaseUrl = testDatabaseUrl(uniqueRunName());
    db = await openDatabase({ url: databaseUrl, poolSize: 6 });
    const instance = () =>
      new TokenCommandHandler(db, new TokenQueries(), systemClock, ulidTokenIds(), () => undefined, { maxBatchSize: 100, maxInFlight: 4 });
    a = instance();
    b = instance();
  });

  afterAll(async () => {
    await db?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  const create = async () =>
    (await a.create({ environment: 'dev', timeout: { afterMs: 3_600_000 }, tags: [], idempotencyKeyTTLMs: 0, metadata })).token.id;
  const complete = (handler: TokenCommandHandler, tokenId: string) =>
    handler.complete({ tokenId, environment: 'dev', output: '{"ok":true}', outputType: 'application/json', channel: 'api', metadata });
  const eventsOf = async (tokenId: string) =>
    (
      await db.query<{ event_type: string }>(`SELECT event_type FROM es_events WHERE stream_id = $1 ORDER BY stream_version`, [
        `token-${tokenId}`,
      ])
    ).map((row) => row.event_type);

  it('an instance that remembers a token as waiting loses cleanly to the instance that finished it', async () => {
    const tokenId = await create();
    expect(await complete(b, tokenId)).toEqual({ tokenId, status: 'COMPLETED', changed: true });
    expect(await complete(a, tokenId)).toEqual({ tokenId, status: 'COMPLETED', changed: false });
    expect(await eventsOf(tokenId)).toEqual(['TokenCreated', 'TokenCompleted']);
  });

  it('reads again before it answers that a remembered waiting token has nothing to do', async () => {
    const tokenId = await create();
    await b.cancel({ tokenId, environment: 'dev', metadata });
    // Not due yet: A remembers the token as waiting, but must not answer WAITING for a cancelled token.
    expect(await a.timeout({ tokenId, environment: 'dev', metadata })).toEqual({ tokenId, status: 'CANCELLED', changed: false });
  });

  it('racing completions on both instances: exactly one terminal event', async () => {
    const tokenIds = await Promise.all(Array.from({ length: 50 }, create));
    const results = await Promise.all(tokenIds.flatMap((tokenId) => [complete(a, tokenId), complete(b, tokenId), complete(a, tokenId)]));
    for (const tokenId of tokenIds) {
      expect(results.filter((r) => r.tokenId === tokenId && r.changed)).toHaveLength(1);
      expect(await eventsOf(tokenId)).toEqual(['TokenCreated', 'TokenCompleted']);
    }
  });
});
