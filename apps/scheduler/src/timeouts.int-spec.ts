import { TIMEOUT_ERROR_CODE } from '@waitpoints/contracts';
import { RunningSystem, startSystem } from '../../../test/support/system';
import { RunningScheduler, eventually, startScheduler, tokenApi, withDatabase } from '../../../test/support/scheduler';

/** Real PostgreSQL, NATS/JetStream, token-service, gateway and one scheduler instance. */
describe('a token nobody completes', () => {
  let system: RunningSystem;
  let scheduler: RunningScheduler;

  beforeAll(async () => {
    system = await startSystem();
    scheduler = await startScheduler(system);
  });

  afterAll(async () => {
    await scheduler?.stop();
    await system?.stop();
  });

  it('times out at its deadline, within 250 ms, with the timeout error as output', async () => {
    const api = tokenApi(system);
    const { id } = await api.create({ timeout: '2s' });

    const token = await eventually('the token to time out', async () => {
      const current = await api.retrieve(id);
      return current.status === 'TIMED_OUT' ? current : undefined;
    });

    const lateMs = Date.parse(token.completedAt) - Date.parse(token.timeoutAt);
    expect(lateMs).toBeGreaterThanOrEqual(0);
    expect(lateMs).toBeLessThan(250);
    expect(token.outputIsError).toBe(true);
    expect(JSON.parse(token.output)).toEqual({
      code: TIMEOUT_ERROR_CODE,
      message: `Waitpoint timed out at ${token.completedAt}`,
    });
  });

  it('leaves no timer behind and counts it as scheduled, fired and on time', async () => {
    const pending = await eventually('the fired timer to be deleted', () =>
      withDatabase(system.databaseUrl, async (db) => {
        const { rows } = await db.query(`SELECT count(*)::int AS n FROM scheduler_timers`);
        return rows[0].n === 0 ? 0 : undefined;
      }),
    );
    expect(pending).toBe(0);
    const metrics = scheduler.scheduler.metrics;
    expect((await metrics.scheduled.get()).values[0].value).toBe(1);
    expect((await metrics.fired.get()).values).toEqual([expect.objectContaining({ labels: { outcome: 'timed_out' }, value: 1 })]);
    const lateness = await metrics.lateness.get();
    expect(lateness.values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
    expect(lateness.values.find((v) => v.labels.le === 0.25)?.value).toBe(1);
  });
});

describe('a completion racing the timeout', () => {
  const TOKENS = 120;
  let system: RunningSystem;
  let scheduler: RunningScheduler;

  beforeAll(async () => {
    system = await startSystem();
    scheduler = await startScheduler(system);
  });

  afterAll(async () => {
    await scheduler?.stop();
    await system?.stop();
  });

  it(`ends each of ${TOKENS} tokens with exactly one terminal event, whoever wins`, async () => {
    const api = tokenApi(system);
    // Far enough ahead that creating every token finishes first, even on a loaded machine.
    const deadline = new Date(Date.now() + 8_000);
    const ids = await Promise.all(Array.from({ length: TOKENS }, () => api.create({ timeout: deadline.toISOString() }).then((t) => t.id)));

    // Completions every 10 ms from 200 ms before the deadline the scheduler fires at to 1 s after:
    // the ones near the deadline reach the token-service together with the timeouts.
    const completions = ids.map(
      (id, index) =>
        new Promise<void>((resolve, reject) => {
          const at = deadline.getTime() - 200 + 10 * index;
          setTimeout(() => api.complete(id, { index }).then(() => resolve(), reject), at - Date.now());
        }),
    );
    await Promise.all(completions);

    const internalIds = ids.map((id) => id.replace(/^waitpoint_/, ''));
    const endings = await eventually('every token to end', () =>
      withDatabase(system.databaseUrl, async (db) => {
        const { rows } = await db.query(
          `SELECT t.id, t.status, count(e.*) FILTER (WHERE e.event_type <> 'TokenCreated')::int AS terminal_events,
                  max(e.event_type) FILTER (WHERE e.event_type <> 'TokenCreated') AS terminal_event
             FROM waitpoint_tokens t JOIN es_events e ON e.stream_id = 'token-' || t.id
            WHERE t.id = ANY($1) GROUP BY t.id, t.status`,
          [internalIds],
        );
        return rows.every((r) => r.status !== 'WAITING') ? rows : undefined;
      }),
    );

    expect(endings).toHaveLength(TOKENS);
    for (const ending of endings) {
      expect(ending.terminal_events).toBe(1);
      expect(ending.terminal_event).toBe(ending.status === 'COMPLETED' ? 'TokenCompleted' : 'TokenTimedOut');
    }
    // Both sides won some: the race really was run.
    const statuses = new Set(endings.map((e) => e.status));
    expect(statuses).toEqual(new Set(['COMPLETED', 'TIMED_OUT']));

    await eventually('no timer left', () =>
      withDatabase(system.databaseUrl, async (db) => {
        const { rows } = await db.query(`SELECT count(*)::int AS n FROM scheduler_timers`);
        return rows[0].n === 0 ? true : undefined;
      }),
    );
  });
});
