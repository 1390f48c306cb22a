import { RunningSystem, startSystem } from '../../../test/support/system';
import { eventually, startScheduler, tokenApi, withDatabase } from '../../../test/support/scheduler';
import { streamMessageCount } from '../../../test/support/jetstream';

/**
 * A scheduler that was away longer than the event stream keeps messages (JETSTREAM_MAX_AGE)
 * still learns every deadline set meanwhile: it reads the events that aged out from the event
 * store, then continues on JetStream. Without that, a token created while it was away would
 * never time out.
 */
describe('a scheduler away longer than JetStream keeps messages', () => {
  let system: RunningSystem;

  beforeAll(async () => {
    system = await startSystem({
      env: { JETSTREAM_MAX_AGE: '2s', JETSTREAM_DUPLICATE_WINDOW_MS: '1000', OUTBOX_CHECKPOINT_INTERVAL_MS: '100' },
    });
  });

  afterAll(async () => {
    await system?.stop();
  });

  it('learns the deadlines it missed from the event store, and times those tokens out', async () => {
    const api = tokenApi(system);
    const first = await startScheduler(system);
    const before = await api.create({ timeout: '1h' });
    const ingestedPosition = () =>
      withDatabase(system.databaseUrl, async (db) => (await db.query(`SELECT position FROM scheduler_ingest_positions`)).rows[0]?.position);
    await eventually('the first scheduler recorded how far it ingested', ingestedPosition);
    await first.stop();

    const missed = await api.create({ timeout: '6s' });
    const later = await api.create({ timeout: '1h' });
    await api.complete(before.id, 'done while the scheduler was away');
    await eventually(
      'the stream dropped every message',
      async () => ((await streamMessageCount(system.streamName)) === 0 ? true : undefined),
      15_000,
    );

    const back = await startScheduler(system);
    try {
      const timers = await eventually('the missed deadlines are timers again', () =>
        withDatabase(system.databaseUrl, async (db) => {
          const { rows } = await db.query(`SELECT token_id FROM scheduler_timers ORDER BY token_id`);
          return rows.length === 2 ? rows.map((row) => row.token_id as string) : undefined;
        }),
      );
      expect(timers.sort()).toEqual([missed.id, later.id].map((id) => id.replace('waitpoint_', '')).sort());
      const token = await eventually(
        'the token created while the scheduler was away timed out',
        async () => {
          const current = await api.retrieve(missed.id);
          return current.status === 'TIMED_OUT' ? current : undefined;
        },
        15_000,
      );
      expect(token.status).toBe('TIMED_OUT');
    } finally {
      await back.stop();
    }
  });
});
