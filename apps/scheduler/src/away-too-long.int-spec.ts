import { RunningSystem, startSystem } from '../../../test/support/system';
import { eventually, startScheduler, tokenApi, withDatabase } from '../../../test/support/scheduler';
import { connect } from 'nats';
import { TEST_NATS_URL } from '../../../test/support/services';

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

    const missed = await api.create({ timeout: '8s' });
    const later = await api.create({ timeout: '1h' });
    await api.complete(before.id, 'done while the scheduler was away');
    // The outbox published all four events (the first creation and these three), and they aged out.
    await eventually(
      'the stream received and then dropped every message',
      async () => {
        const nats = await connect({ servers: TEST_NATS_URL });
        try {
          const { state } = await (await nats.jetstreamManager()).streams.info(system.streamName);
          return state.last_seq >= 4 && state.messages === 0 ? true : undefined;
        } finally {
          await nats.close();
        }
      },
      15_000,
    );

    const back = await startScheduler(system);
    try {
      // The later deadline is a timer again; the earlier one may have fired already.
      await eventually('the later deadline is a timer again', () =>
        withDatabase(system.databaseUrl, async (db) => {
          const { rows } = await db.query(`SELECT 1 FROM scheduler_timers WHERE token_id = $1`, [later.id.replace('waitpoint_', '')]);
          return rows.length === 1 ? true : undefined;
        }),
      );
      const token = await eventually(
        'the token created while the scheduler was away timed out',
        async () => {
          const current = await api.retrieve(missed.id);
          return current.status === 'TIMED_OUT' ? current : undefined;
        },
        20_000,
      );
      // Its timer came from the event store: the completed token has none.
      const timers = await withDatabase(system.databaseUrl, async (db) => (await db.query(`SELECT token_id FROM scheduler_timers`)).rows);
      expect(timers.map((row) => row.token_id)).toEqual([later.id.replace('waitpoint_', '')]);
      expect(token.status).toBe('TIMED_OUT');
    } finally {
      await back.stop();
    }
  });
});
