import { RunningSystem, startSystem } from '../../../test/support/system';
import { RunningScheduler, eventually, startScheduler, tokenApi, withDatabase } from '../../../test/support/scheduler';
import type { Clock } from './clock';

const DAY_MS = 86_400_000;

/** Real time moved forward by hand; shared by the token-service and the scheduler. */
class MovableClock implements Clock {
  private shiftMs = 0;
  now = () => new Date(Date.now() + this.shiftMs);
  advance(ms: number): void {
    this.shiftMs += ms;
  }
}

/** Timeouts longer than Node's setTimeout can hold (~24.8 days), tested with a moved clock. */
describe('a 30-day timeout', () => {
  const clock = new MovableClock();
  const warnings: Error[] = [];
  const recordWarning = (warning: Error) => warnings.push(warning);
  let system: RunningSystem;
  let scheduler: RunningScheduler;
  let token: { id: string; timeoutAt: string };

  beforeAll(async () => {
    process.on('warning', recordWarning);
    system = await startSystem({ tokenService: { clock } });
    scheduler = await startScheduler(system, { overrides: { clock } });
    const api = tokenApi(system);
    const { id } = await api.create({ timeout: '30d' });
    token = await api.retrieve(id);
  });

  afterAll(async () => {
    process.off('warning', recordWarning);
    await scheduler?.stop();
    await system?.stop();
  });

  it('is scheduled for its deadline in the table, not held in memory', async () => {
    const dueAt = await eventually('the timer to be recorded', () =>
      withDatabase(system.databaseUrl, async (db) => {
        const { rows } = await db.query(`SELECT due_at FROM scheduler_timers WHERE token_id = $1`, [token.id.replace(/^waitpoint_/, '')]);
        return rows[0]?.due_at as Date | undefined;
      }),
    );
    expect(dueAt.toISOString()).toBe(token.timeoutAt);
    expect(Date.parse(token.timeoutAt) - clock.now().getTime()).toBeGreaterThan(30 * DAY_MS - 60_000);

    await new Promise((resolve) => setTimeout(resolve, 1_000)); // several claim rounds
    expect(scheduler.scheduler.gate.size).toBe(0);
    expect((await tokenApi(system).retrieve(token.id)).status).toBe('WAITING');
  });

  it('fires at its deadline once 30 days have passed, without overflowing setTimeout', async () => {
    clock.advance(Date.parse(token.timeoutAt) - clock.now().getTime() - 1_500);

    const ended = await eventually('the token to time out', async () => {
      const current = await tokenApi(system).retrieve(token.id);
      return current.status === 'TIMED_OUT' ? current : undefined;
    });
    const lateMs = Date.parse(ended.completedAt) - Date.parse(token.timeoutAt);
    expect(lateMs).toBeGreaterThanOrEqual(0);
    expect(lateMs).toBeLessThan(250);
    expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
  });
});
