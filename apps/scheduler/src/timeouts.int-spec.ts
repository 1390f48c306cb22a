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
    expect((await metrics.fired.get()).values).toEqual([
      expect.objectContaining({ labels: { outcome: 'timed_out' }, value: 1 }),
    ]);
    const lateness = await metrics.lateness.get();
    expect(lateness.values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(1);
    expect(lateness.values.find((v) => v.labels.le === 0.25)?.value).toBe(1);
  });
});
