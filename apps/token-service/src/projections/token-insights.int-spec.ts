import { firstValueFrom, timeout } from 'rxjs';
import {
  ErrorCode,
  RpcReply,
  TimeoutTokenCommand,
  TokenCommandSubjects,
  TokenHistoryResult,
  TokenQuerySubjects,
  TokenStatsResult,
} from '@waitpoints/contracts';
import { PrefixedNatsClient } from '@waitpoints/contracts/nats/prefixed-transport';
import { TEST_NATS_URL } from '../../../../test/support/services';
import { RunningSystem, TEST_KEYS, startSystem } from '../../../../test/support/system';
import { tokenApi } from '../../../../test/support/scheduler';
import { Client } from 'pg';
import { EXACT_STATUS_COUNT_LIMIT, HISTORY_OUTPUT_PREVIEW_CHARS } from './token-insights';

/** qry.token.history and qry.token.stats: what the dashboard reads besides the token list. */
describe('token insights over NATS', () => {
  let system: RunningSystem;
  let client: PrefixedNatsClient;

  beforeAll(async () => {
    system = await startSystem();
    client = new PrefixedNatsClient(system.subjectPrefix, { servers: [TEST_NATS_URL] });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await system?.stop();
  });

  const ask = async <T>(subject: string, payload: object): Promise<RpcReply<T>> =>
    firstValueFrom(client.send<RpcReply<T>>(subject, payload).pipe(timeout(5_000)));
  const value = async <T>(subject: string, payload: object): Promise<T> => {
    const reply = await ask<T>(subject, payload);
    if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
    return reply.value;
  };
  const internal = (id: string) => id.replace(/^waitpoint_/, '');
  const forceTimeout = (tokenId: string) =>
    value(TokenCommandSubjects.timeout, {
      environment: 'dev',
      tokenId,
      force: true,
      metadata: { correlationId: 'insights-spec', actor: { type: 'dashboard', id: 'dev' } },
    } satisfies TimeoutTokenCommand);

  describe('history', () => {
    it('returns every event of the token, oldest first, with who caused it', async () => {
      const api = tokenApi(system);
      const id = internal((await api.create({ timeout: '1h', tags: ['order:7'] })).id);
      await api.complete(id, { approved: true });

      const history = await value<TokenHistoryResult>(TokenQuerySubjects.history, { environment: 'dev', tokenId: id });

      expect(history.tokenId).toBe(id);
      expect(history.events.map((e) => [e.type, e.streamVersion])).toEqual([
        ['TokenCreated', 1],
        ['TokenCompleted', 2],
      ]);
      expect(history.events[0]).toMatchObject({ data: { tags: ['order:7'] }, metadata: { actor: { type: 'api_key', id: 'dev' } } });
      expect(history.events[1]).toMatchObject({ data: { output: '{"approved":true}', channel: 'api' } });
      expect(new Date(history.events[1].recordedAt).getTime()).toBeGreaterThanOrEqual(new Date(history.events[0].recordedAt).getTime());
    });

    it('records a forced timeout with the dashboard as actor', async () => {
      const id = internal((await tokenApi(system).create({ timeout: '1h' })).id);
      expect(await forceTimeout(id)).toEqual({ tokenId: id, status: 'TIMED_OUT', changed: true });

      const { events } = await value<TokenHistoryResult>(TokenQuerySubjects.history, { environment: 'dev', tokenId: id });
      expect(events[1]).toMatchObject({
        type: 'TokenTimedOut',
        data: { forced: true },
        metadata: { correlationId: 'insights-spec', actor: { type: 'dashboard', id: 'dev' } },
      });
      // Forcing again changes nothing: still one terminal event.
      expect(await forceTimeout(id)).toEqual({ tokenId: id, status: 'TIMED_OUT', changed: false });
    });

    it("answers not found for another environment's token, exactly as for an unknown one", async () => {
      const id = internal((await tokenApi(system).create({ timeout: '1h' })).id);
      for (const query of [
        { environment: 'prod', tokenId: id },
        { environment: 'dev', tokenId: '01jd0000000000000000000000' },
      ]) {
        const reply = await ask<TokenHistoryResult>(TokenQuerySubjects.history, query);
        expect(reply).toEqual({ ok: false, error: expect.objectContaining({ code: ErrorCode.TokenNotFound }) });
      }
    });

    it('cuts a large output to a preview and says how long the whole one is', async () => {
      const api = tokenApi(system);
      const id = internal((await api.create({ timeout: '1h' })).id);
      const big = 'x'.repeat(HISTORY_OUTPUT_PREVIEW_CHARS * 3);
      await api.complete(id, big);

      const { events } = await value<TokenHistoryResult>(TokenQuerySubjects.history, { environment: 'dev', tokenId: id });
      const completed = events[1];
      expect((completed.data as { output: string }).output).toHaveLength(HISTORY_OUTPUT_PREVIEW_CHARS);
      expect(completed.outputTruncatedFromChars).toBe(JSON.stringify(big).length);
    });
  });

  describe('stats', () => {
    it("counts one environment's tokens by status, the oldest waiting one, and the last hour's flow", async () => {
      // A fresh environment's view would be polluted by the history specs, so compare before/after.
      const before = await value<TokenStatsResult>(TokenQuerySubjects.stats, { environment: 'dev' });
      const api = tokenApi(system);
      const waiting = internal((await api.create({ timeout: '1h' })).id);
      const completed = internal((await api.create({ timeout: '1h' })).id);
      const forced = internal((await api.create({ timeout: '1h' })).id);
      const cancelled = internal((await api.create({ timeout: '1h' })).id);
      await api.complete(completed, 1);
      await forceTimeout(forced);
      const cancel = await fetch(`${system.tokensUrl}/${cancelled}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEYS.dev}` },
      });
      expect(cancel.status).toBe(200);
      // Another environment's tokens are not counted.
      await fetch(system.tokensUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEYS.prod}`, 'content-type': 'application/json' },
        body: JSON.stringify({ timeout: '1h' }),
      });

      const after = await value<TokenStatsResult>(TokenQuerySubjects.stats, { environment: 'dev' });

      expect(after.byStatus).toEqual({
        WAITING: before.byStatus.WAITING + 1,
        COMPLETED: before.byStatus.COMPLETED + 1,
        TIMED_OUT: before.byStatus.TIMED_OUT + 1,
        CANCELLED: before.byStatus.CANCELLED + 1,
        REJECTED: before.byStatus.REJECTED,
      });
      expect(after.lastHour).toEqual({
        created: before.lastHour.created + 4,
        completed: before.lastHour.completed + 1,
        timedOut: before.lastHour.timedOut + 1,
        cancelled: before.lastHour.cancelled + 1,
        rejected: before.lastHour.rejected,
      });
      // The oldest waiting token is older than (or is) the one just created.
      const token = await api.retrieve(waiting);
      expect(new Date(after.oldestWaitingCreatedAt!).getTime()).toBeLessThanOrEqual(new Date(token.createdAt).getTime());
    });

    it("counts a status exactly up to the limit and, above it, gives PostgreSQL's estimate listed as estimated", async () => {
      // Projection rows written directly: 100 waiting tokens and more completed ones than are counted exactly.
      const db = new Client({ connectionString: system.databaseUrl });
      await db.connect();
      try {
        await db.query(
          `INSERT INTO waitpoint_tokens (id, environment, status, timeout_at, completed_at, tags, created_at, updated_at, version)
           SELECT lpad(i::text, 26, '0'), 'large', CASE WHEN i <= 100 THEN 'WAITING' ELSE 'COMPLETED' END,
                  now() + interval '1 day', CASE WHEN i > 100 THEN now() - interval '2 hours' END, '{}',
                  now() - interval '3 hours', now(), 1
             FROM generate_series(1, $1::int) i`,
          [EXACT_STATUS_COUNT_LIMIT + 1_100],
        );
        await db.query('ANALYZE waitpoint_tokens');
      } finally {
        await db.end();
      }

      const stats = await value<TokenStatsResult>(TokenQuerySubjects.stats, { environment: 'large' });

      expect(stats.estimated).toEqual(['COMPLETED']);
      expect(stats.byStatus.WAITING).toBe(100);
      expect(stats.byStatus.COMPLETED).toBeGreaterThan(EXACT_STATUS_COUNT_LIMIT);
      expect(Math.abs(stats.byStatus.COMPLETED - (EXACT_STATUS_COUNT_LIMIT + 1_000))).toBeLessThan(EXACT_STATUS_COUNT_LIMIT * 0.2);
      expect(stats.byStatus.TIMED_OUT).toBe(0);
    });

    it('reports zeros and no oldest waiting token for an empty environment', async () => {
      const stats = await value<TokenStatsResult>(TokenQuerySubjects.stats, { environment: 'empty' });
      expect(stats).toEqual({
        at: expect.any(String),
        byStatus: { WAITING: 0, COMPLETED: 0, TIMED_OUT: 0, CANCELLED: 0, REJECTED: 0 },
        lastHour: { created: 0, completed: 0, timedOut: 0, cancelled: 0, rejected: 0 },
      });
    });
  });
});
