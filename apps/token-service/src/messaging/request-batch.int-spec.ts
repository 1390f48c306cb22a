import { firstValueFrom, timeout } from 'rxjs';
import {
  BATCH_REPLY_BUDGET_BYTES,
  CompleteTokenCommand,
  CreateTokenCommand,
  ErrorCode,
  RpcReply,
  SEND_ALONE,
  TokenCommandSubjects,
  TokenQuerySubjects,
  TokenRequestBatchReply,
  TokenRequestBatchSubject,
} from '@waitpoints/contracts';
import { PrefixedNatsClient } from '@waitpoints/contracts/nats/prefixed-transport';
import { TEST_NATS_URL } from '../../../../test/support/services';
import { RunningSystem, startSystem } from '../../../../test/support/system';
import { tokenApi, withDatabase } from '../../../../test/support/scheduler';

/**
 * rpc.token.batch and the batched writes behind it: each command is decided and answered as
 * if it had come alone, however many share a message and a write statement; so is each small query.
 */
describe('several commands in one message', () => {
  let system: RunningSystem;
  let client: PrefixedNatsClient;
  const metadata = { correlationId: 'request-batch-spec', actor: { type: 'api_key' as const, id: 'dev' } };

  beforeAll(async () => {
    system = await startSystem();
    client = new PrefixedNatsClient(system.subjectPrefix, { servers: [TEST_NATS_URL] });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await system?.stop();
  });

  const sendBatch = (requests: { subject: string; payload: unknown }[]) =>
    firstValueFrom(client.send<TokenRequestBatchReply>(TokenRequestBatchSubject, { requests }).pipe(timeout(10_000))).then(
      (reply) => reply.replies,
    );
  const create = (tags: string[]): CreateTokenCommand => ({
    environment: 'dev',
    idempotencyKeyTTLMs: 3_600_000,
    timeout: { afterMs: 3_600_000 },
    tags,
    metadata,
  });
  const complete = (tokenId: string, output: string): CompleteTokenCommand => ({
    environment: 'dev',
    tokenId,
    output,
    outputType: 'application/json',
    channel: 'api',
    metadata,
  });
  const internal = (id: string) => id.replace(/^waitpoint_/, '');
  const eventsOf = (tokenId: string) =>
    withDatabase(system.databaseUrl, async (db) => {
      const { rows } = await db.query(
        `SELECT event_type, data->>'output' AS output FROM es_events WHERE stream_id = $1 ORDER BY stream_version`,
        [`token-${tokenId}`],
      );
      return rows as { event_type: string; output: string | null }[];
    });

  it('answers each request in order, exactly as its own subject would, a failure only for its own request', async () => {
    const api = tokenApi(system);
    const waiting = internal((await api.create({ timeout: '1h' })).id);
    const other = internal((await api.create({ timeout: '1h', tags: ['other'] })).id);
    const replies = await sendBatch([
      { subject: TokenCommandSubjects.create, payload: create(['first']) },
      { subject: TokenCommandSubjects.complete, payload: complete(waiting, '"done"') },
      { subject: TokenCommandSubjects.complete, payload: complete('01JZZZZZZZZZZZZZZZZZZZZZZZ', '"lost"') },
      { subject: TokenQuerySubjects.get, payload: { environment: 'dev', tokenId: other } },
      { subject: TokenQuerySubjects.get, payload: { environment: 'dev', tokenId: '01JZZZZZZZZZZZZZZZZZZZZZZZ' } },
      { subject: TokenQuerySubjects.list, payload: { environment: 'dev', tags: ['other'], pageSize: 10 } },
      { subject: TokenQuerySubjects.stats, payload: { environment: 'dev' } },
      { subject: TokenCommandSubjects.create, payload: create(['second']) },
    ]);

    expect(replies).toHaveLength(8);
    const [created, completed, unknown, got, notFound, listed, stats, createdToo] = replies as RpcReply<any>[];
    expect(created).toMatchObject({ ok: true, value: { isCached: false, token: { status: 'WAITING', tags: ['first'] } } });
    expect(completed).toEqual({ ok: true, value: { tokenId: waiting, status: 'COMPLETED', changed: true } });
    expect(unknown).toMatchObject({ ok: false, error: { code: ErrorCode.TokenNotFound } });
    expect(got).toMatchObject({ ok: true, value: { id: other, status: 'WAITING', tags: ['other'] } });
    expect(notFound).toMatchObject({ ok: false, error: { code: ErrorCode.TokenNotFound } });
    expect(listed).toMatchObject({ ok: true, value: { tokens: [{ id: other }] } });
    // The dashboard's counts can be large to compute and to answer: never in a batch.
    expect(stats).toMatchObject({
      ok: false,
      error: { code: ErrorCode.ValidationFailed, message: expect.stringMatching(/cannot be sent in a batch$/) },
    });
    expect(createdToo).toMatchObject({ ok: true, value: { token: { status: 'WAITING', tags: ['second'] } } });

    const retrieved = await api.retrieve(waiting);
    expect(retrieved).toMatchObject({ status: 'COMPLETED', output: '"done"' });
    const newToken = (created as { ok: true; value: { token: { id: string } } }).value.token.id;
    expect(await eventsOf(newToken)).toEqual([{ event_type: 'TokenCreated', output: null }]);
  });

  it('keeps its reply under the budget: a query whose answer would not fit is answered "send alone"', async () => {
    const api = tokenApi(system);
    const tokenId = internal((await api.create({ timeout: '1h' })).id);
    const output = JSON.stringify('x'.repeat(200_000)); // about 200 KB per reply: two fit in 512 KiB, three do not
    await api.complete(tokenId, 'x'.repeat(200_000));
    const get = { subject: TokenQuerySubjects.get, payload: { environment: 'dev', tokenId } };
    const cancel = { subject: TokenCommandSubjects.cancel, payload: { environment: 'dev', tokenId, metadata } };
    const replies = (await sendBatch([get, get, get, cancel, get])) as any[];

    expect(replies.slice(0, 2)).toEqual([
      expect.objectContaining({ ok: true, value: expect.objectContaining({ output }) }),
      expect.objectContaining({ ok: true, value: expect.objectContaining({ output }) }),
    ]);
    expect(replies[2]).toEqual(SEND_ALONE);
    // A command is answered whatever the budget: it has been applied (here: refused, the token is finished).
    expect(replies[3]).toMatchObject({ ok: false, error: { code: ErrorCode.TokenAlreadyFinished } });
    expect(replies[4]).toEqual(SEND_ALONE);
    expect(Buffer.byteLength(JSON.stringify({ replies }))).toBeLessThan(BATCH_REPLY_BUDGET_BYTES);
  });

  it('racing commands on one token in one batch: the first wins, the others change nothing, one terminal event', async () => {
    const api = tokenApi(system);
    const tokenIds = await Promise.all([1, 2, 3, 4, 5].map(async () => internal((await api.create({ timeout: '1h' })).id)));
    const requests = tokenIds.flatMap((tokenId) => [
      { subject: TokenCommandSubjects.complete, payload: complete(tokenId, '"first"') },
      { subject: TokenCommandSubjects.cancel, payload: { environment: 'dev', tokenId, metadata } },
      { subject: TokenCommandSubjects.complete, payload: complete(tokenId, '"third"') },
    ]);
    const replies = (await sendBatch(requests)) as RpcReply<any>[];

    for (const [i, tokenId] of tokenIds.entries()) {
      const [first, cancel, third] = replies.slice(3 * i, 3 * i + 3);
      expect(first).toEqual({ ok: true, value: { tokenId, status: 'COMPLETED', changed: true } });
      // Cancelling a completed token is refused, as it would be on its own.
      expect(cancel).toMatchObject({ ok: false, error: { code: ErrorCode.TokenAlreadyFinished } });
      expect(third).toEqual({ ok: true, value: { tokenId, status: 'COMPLETED', changed: false } });
      expect(await eventsOf(tokenId)).toEqual([
        { event_type: 'TokenCreated', output: null },
        { event_type: 'TokenCompleted', output: '"first"' },
      ]);
    }
  });

  it('a command PostgreSQL refuses fails alone: the others of its batch are stored', async () => {
    const api = tokenApi(system);
    const [good, bad, alsoGood] = await Promise.all([1, 2, 3].map(async () => internal((await api.create({ timeout: '1h' })).id)));
    // A NUL character cannot be stored in jsonb or text: this write fails whichever path it takes.
    const replies = (await sendBatch([
      { subject: TokenCommandSubjects.complete, payload: complete(good, '"kept"') },
      { subject: TokenCommandSubjects.complete, payload: complete(bad, '"nul \u0000 inside"') },
      { subject: TokenCommandSubjects.complete, payload: complete(alsoGood, '"kept too"') },
    ])) as RpcReply<any>[];

    expect(replies[0]).toEqual({ ok: true, value: { tokenId: good, status: 'COMPLETED', changed: true } });
    expect(replies[1]).toMatchObject({ ok: false, error: { code: ErrorCode.Internal } });
    expect(replies[2]).toEqual({ ok: true, value: { tokenId: alsoGood, status: 'COMPLETED', changed: true } });
    expect(await api.retrieve(bad)).toMatchObject({ status: 'WAITING' });
    expect(await api.retrieve(alsoGood)).toMatchObject({ status: 'COMPLETED', output: '"kept too"' });
  });

  it('many concurrent creates and completes through the API: every answer matches what was stored', async () => {
    const api = tokenApi(system);
    const ids = (await Promise.all(Array.from({ length: 200 }, () => api.create({ timeout: '1h', tags: ['burst'] })))).map((t) => t.id);
    expect(new Set(ids).size).toBe(200);
    await Promise.all(ids.map((id, i) => api.complete(id, { n: i })));
    const rows = await withDatabase(system.databaseUrl, async (db) => {
      const { rows } = await db.query(
        `SELECT t.id, t.status, t.output, t.version, count(e.*)::int AS events
           FROM waitpoint_tokens t JOIN es_events e ON e.stream_id = 'token-' || t.id
          WHERE t.id = ANY($1::text[]) GROUP BY t.id`,
        [ids.map(internal)],
      );
      return rows as { id: string; status: string; output: string; version: number; events: number }[];
    });
    const byId = new Map(rows.map((row) => [row.id, row]));
    ids.forEach((id, i) => {
      expect(byId.get(internal(id))).toMatchObject({ status: 'COMPLETED', output: JSON.stringify({ n: i }), version: 2, events: 2 });
    });
  });
});
