import { firstValueFrom, timeout } from 'rxjs';
import { ErrorCode, RpcReply, TimeoutTokensCommand, TimeoutTokensResult, TokenCommandSubjects } from '@waitpoints/contracts';
import { PrefixedNatsClient } from '@waitpoints/contracts/nats/prefixed-transport';
import { TEST_NATS_URL } from '../../../../test/support/services';
import { RunningSystem, startSystem } from '../../../../test/support/system';
import { tokenApi, withDatabase } from '../../../../test/support/scheduler';

/** cmd.token.timeout-batch: each token decided as cmd.token.timeout would, in one request. */
describe('timing out a batch of tokens', () => {
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

  const send = async (command: TimeoutTokensCommand) => {
    const reply = await firstValueFrom(
      client.send<RpcReply<TimeoutTokensResult>>(TokenCommandSubjects.timeoutBatch, command).pipe(timeout(5_000)),
    );
    if (!reply.ok) throw new Error(reply.error.message);
    return reply.value.results;
  };

  it('times out the due ones and answers for every other token on its own', async () => {
    const api = tokenApi(system);
    const internal = (id: string) => id.replace(/^waitpoint_/, '');
    const due = internal((await api.create({ timeout: '1s' })).id);
    const notDue = internal((await api.create({ timeout: '1h' })).id);
    const completed = internal((await api.create({ timeout: '1s' })).id);
    await api.complete(completed, { done: true });
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const metadata = { correlationId: 'batch-spec', actor: { type: 'scheduler' as const, id: 'spec' } };
    const results = await send({
      timeouts: [
        { tokenId: due, environment: 'dev' },
        { tokenId: notDue, environment: 'dev' },
        { tokenId: completed, environment: 'dev' },
        { tokenId: 'nosuchtoken', environment: 'dev' },
        { tokenId: due, environment: 'prod' },
      ],
      metadata,
    });

    expect(results).toEqual([
      { ok: true, value: { tokenId: due, status: 'TIMED_OUT', changed: true } },
      // A token still waiting answers its deadline, where the scheduler re-arms the timer.
      {
        ok: true,
        value: { tokenId: notDue, status: 'WAITING', changed: false, timeoutAt: expect.any(String), deadline: expect.any(String) },
      },
      { ok: true, value: { tokenId: completed, status: 'COMPLETED', changed: false } },
      { ok: false, error: expect.objectContaining({ code: ErrorCode.TokenNotFound }) },
      { ok: false, error: expect.objectContaining({ code: ErrorCode.TokenNotFound }) },
    ]);

    // Sent again (a double fire): nothing more happens.
    expect(await send({ timeouts: [{ tokenId: due, environment: 'dev' }], metadata })).toEqual([
      { ok: true, value: { tokenId: due, status: 'TIMED_OUT', changed: false } },
    ]);
    const events = await withDatabase(system.databaseUrl, async (db) => {
      const { rows } = await db.query(`SELECT event_type FROM es_events WHERE stream_id = $1 ORDER BY stream_version`, [`token-${due}`]);
      return rows.map((r) => r.event_type);
    });
    expect(events).toEqual(['TokenCreated', 'TokenTimedOut']);
    const token = await api.retrieve(due);
    expect(token).toEqual(expect.objectContaining({ status: 'TIMED_OUT', outputIsError: true }));
  });
});
