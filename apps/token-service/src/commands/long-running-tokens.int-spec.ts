import { Client } from 'pg';
import { ErrorCode, MessageMetadata, WaitpointError, tokenStreamId } from '@waitpoints/contracts';
import { Database, openDatabase } from '../database/database';
import { decide, foldToken } from '../domain/token.decider';
import { appendToStreams, readStreams, toDomainEvent } from '../event-store/event-store';
import { TokenQueries } from '../projections/token-queries';
import { dropDatabase, requirePostgres, testDatabaseUrl, uniqueRunName } from '../../../../test/support/services';
import { Clock, ulidTokenIds } from './clock';
import { TokenCommandHandler } from './token-command-handler';

const metadata: MessageMetadata = { correlationId: 'spec', actor: { type: 'api_key', id: 'dev' } };
const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const HEARTBEAT_MS = 30_000;

/**
 * Rejections, extensions and heartbeats through the one write path, on a clock the spec moves.
 * Heartbeats are not events: what matters is that the decider sees the current heartbeat
 * deadline, and that a heartbeat and a timeout racing for the same token settle on one outcome.
 */
describe('long-running tokens in the token-service', () => {
  let db: Database;
  let databaseUrl: string;
  let handler: TokenCommandHandler;
  let nowMs = T0;
  const clock: Clock = { now: () => new Date(nowMs) };

  beforeAll(async () => {
    await requirePostgres();
    databaseUrl = testDatabaseUrl(uniqueRunName());
    db = await openDatabase({ url: databaseUrl, poolSize: 8 });
    handler = new TokenCommandHandler(db, new TokenQueries(), clock, ulidTokenIds(), () => undefined, {
      maxBatchSize: 100,
      maxInFlight: 4,
    });
  });

  beforeEach(() => {
    nowMs = T0;
  });

  afterAll(async () => {
    await db?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  const create = async (heartbeatTimeoutMs?: number) =>
    (
      await handler.create({
        environment: 'dev',
        timeout: { afterMs: 3_600_000 },
        tags: [],
        idempotencyKeyTTLMs: 0,
        heartbeatTimeoutMs,
        metadata,
      })
    ).token.id;
  const timeout = (tokenId: string) => handler.timeout({ tokenId, environment: 'dev', metadata });
  const heartbeat = (tokenId: string, environment = 'dev') => handler.heartbeat({ tokenId, environment, metadata });
  const eventsOf = async (tokenId: string) =>
    (
      await db.query<{ event_type: string }>(`SELECT event_type FROM es_events WHERE stream_id = $1 ORDER BY stream_version`, [
        tokenStreamId(tokenId),
      ])
    ).map((row) => row.event_type);
  const failureOf = async (work: Promise<unknown>) => {
    const error = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WaitpointError);
    return error as WaitpointError;
  };
  const iso = (ms: number) => new Date(ms).toISOString();
  /** A timeout decided (not yet appended) at a heartbeat token's first heartbeat deadline. */
  const timeoutDecidedAtFirstHeartbeatDeadline = async (tokenId: string) => {
    const streamId = tokenStreamId(tokenId);
    const stream = (await readStreams(db, [streamId])).get(streamId)!;
    const [event] = decide(
      { type: 'TimeOutToken', tokenId, force: false, heartbeatDeadline: new Date(T0 + HEARTBEAT_MS), now: new Date(T0 + HEARTBEAT_MS) },
      foldToken(stream.events.map(toDomainEvent)),
    );
    return { streamId, stream, event };
  };

  describe('rejection', () => {
    it('ends a waiting token REJECTED, with the error as output, once', async () => {
      const tokenId = await create();
      const reject = () =>
        handler.reject({ tokenId, environment: 'dev', error: { message: 'nope', code: 'E_NOPE' }, channel: 'api', metadata });
      expect(await reject()).toEqual({ tokenId, status: 'REJECTED', changed: true });
      expect(await reject()).toEqual({ tokenId, status: 'REJECTED', changed: false });
      const view = await new TokenQueries().get(db, 'dev', tokenId);
      expect(view).toMatchObject({
        status: 'REJECTED',
        outputIsError: true,
        output: '{"code":"E_NOPE","message":"nope"}',
        completedBy: 'api',
      });
      expect(await eventsOf(tokenId)).toEqual(['TokenCreated', 'TokenRejected']);
    });
  });

  describe('extension', () => {
    it('moves the timeout: a timeout at the old deadline is not due and answers the new one', async () => {
      const tokenId = await create();
      nowMs = T0 + 60_000;
      expect(await handler.extend({ tokenId, environment: 'dev', timeout: { afterMs: 7_200_000 }, metadata })).toEqual({
        tokenId,
        status: 'WAITING',
        changed: true,
        timeoutAt: iso(T0 + 60_000 + 7_200_000),
        deadline: iso(T0 + 60_000 + 7_200_000),
      });
      nowMs = T0 + 3_600_000;
      expect(await timeout(tokenId)).toMatchObject({ status: 'WAITING', changed: false, deadline: iso(T0 + 60_000 + 7_200_000) });
      nowMs = T0 + 60_000 + 7_200_000;
      expect(await timeout(tokenId)).toMatchObject({ status: 'TIMED_OUT', changed: true });
      expect(await eventsOf(tokenId)).toEqual(['TokenCreated', 'TokenDeadlineExtended', 'TokenTimedOut']);
    });

    it('refuses a finished token with 409 and its status', async () => {
      const tokenId = await create();
      await handler.cancel({ tokenId, environment: 'dev', metadata });
      const error = await failureOf(handler.extend({ tokenId, environment: 'dev', timeout: { afterMs: 1000 }, metadata }));
      expect(error.code).toBe(ErrorCode.TokenAlreadyFinished);
      expect(error.message).toMatch(/already CANCELLED/);
    });
  });

  describe('heartbeats', () => {
    it('restart the heartbeat clock with one UPDATE: no event, and the answer is the new deadline', async () => {
      const tokenId = await create(HEARTBEAT_MS);
      nowMs = T0 + 20_000;
      expect(await heartbeat(tokenId)).toEqual({
        tokenId,
        status: 'WAITING',
        heartbeatDeadline: iso(T0 + 50_000),
        timeoutAt: iso(T0 + 3_600_000),
        deadline: iso(T0 + 50_000),
      });
      expect(await eventsOf(tokenId)).toEqual(['TokenCreated']);
    });

    it('keep a token alive past its first heartbeat deadline; it times out once they stop', async () => {
      const tokenId = await create(HEARTBEAT_MS);
      nowMs = T0 + 20_000;
      await heartbeat(tokenId);
      nowMs = T0 + HEARTBEAT_MS; // the first deadline: a timer fired there finds it alive
      expect(await timeout(tokenId)).toMatchObject({ status: 'WAITING', changed: false, deadline: iso(T0 + 50_000) });
      nowMs = T0 + 50_000;
      expect(await timeout(tokenId)).toMatchObject({ status: 'TIMED_OUT', changed: true });
      const [, timedOut] = (await readStreams(db, [tokenStreamId(tokenId)])).get(tokenStreamId(tokenId))!.events;
      expect(timedOut.data).toMatchObject({ heartbeatDeadline: iso(T0 + 50_000), timedOutAt: iso(T0 + 50_000) });
    });

    it('never move the deadline back, even from a clock that is behind', async () => {
      const tokenId = await create(HEARTBEAT_MS);
      nowMs = T0 + 20_000;
      await heartbeat(tokenId);
      nowMs = T0 + 10_000;
      expect((await heartbeat(tokenId)).heartbeatDeadline).toBe(iso(T0 + 50_000));
    });

    it('are refused for a finished token (409), an unknown one or one of another environment (404), and a token without a heartbeat timeout (400)', async () => {
      const finished = await create(HEARTBEAT_MS);
      await handler.reject({ tokenId: finished, environment: 'dev', error: { message: 'x' }, channel: 'api', metadata });
      expect((await failureOf(heartbeat(finished))).code).toBe(ErrorCode.TokenAlreadyFinished);
      expect((await failureOf(heartbeat('01jzzzzzzzzzzzzzzzzzzzzzzz'))).code).toBe(ErrorCode.TokenNotFound);
      expect((await failureOf(heartbeat(await create(HEARTBEAT_MS), 'prod'))).code).toBe(ErrorCode.TokenNotFound);
      expect((await failureOf(heartbeat(await create()))).code).toBe(ErrorCode.ValidationFailed);
    });

    it('a timeout decided on a heartbeat deadline is not stored when a heartbeat moved it meanwhile', async () => {
      const tokenId = await create(HEARTBEAT_MS);
      const { streamId, stream, event } = await timeoutDecidedAtFirstHeartbeatDeadline(tokenId);
      nowMs = T0 + 25_000;
      await heartbeat(tokenId); // between the decision and its append
      const append = { streamId, expectedVersion: stream.version, eventId: '00000000-0000-4000-8000-000000000001', event, metadata };
      expect(await appendToStreams(db, [append])).toEqual({ stored: [], lostStreamIds: [streamId] });
    });

    it('a heartbeat in progress holds the timeout back until it commits, and then wins', async () => {
      const tokenId = await create(HEARTBEAT_MS);
      const { streamId, stream, event } = await timeoutDecidedAtFirstHeartbeatDeadline(tokenId);
      const other = new Client({ connectionString: databaseUrl });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query(`UPDATE waitpoint_tokens SET heartbeat_deadline = $2 WHERE id = $1`, [tokenId, new Date(T0 + 90_000)]);
        const append = appendToStreams(db, [
          { streamId, expectedVersion: stream.version, eventId: '00000000-0000-4000-8000-000000000002', event, metadata },
        ]);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await other.query('COMMIT');
        expect(await append).toEqual({ stored: [], lostStreamIds: [streamId] });
      } finally {
        await other.end();
      }
    });

    it('racing a timeout for the same token: the heartbeat is acknowledged or the token timed out, never both', async () => {
      const tokenIds = await Promise.all(Array.from({ length: 60 }, () => create(HEARTBEAT_MS)));
      nowMs = T0 + HEARTBEAT_MS; // every token is due by its first heartbeat deadline
      const outcomes = await Promise.all(
        tokenIds.map(async (tokenId) => {
          const [beat, timedOut] = await Promise.all([
            heartbeat(tokenId).then(
              () => true,
              (error: WaitpointError) => (error.code === ErrorCode.TokenAlreadyFinished ? false : Promise.reject(error)),
            ),
            timeout(tokenId),
          ]);
          return { tokenId, beat, timedOut: timedOut.changed, events: await eventsOf(tokenId) };
        }),
      );
      for (const outcome of outcomes) {
        expect(outcome.beat).toBe(!outcome.timedOut);
        expect(outcome.events).toEqual(outcome.timedOut ? ['TokenCreated', 'TokenTimedOut'] : ['TokenCreated']);
      }
    });
  });
});
