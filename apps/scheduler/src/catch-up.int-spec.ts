import { RunningSystem, startSystem } from '../../../test/support/system';
import { RunningScheduler, eventually, startScheduler, tokenApi, withDatabase } from '../../../test/support/scheduler';

const CATCH_UP_RATE = 20;
const OVERDUE = 50;
const COMPLETED_WHILE_DOWN = 5;

interface Ending {
  id: string;
  status: string;
  timeout_at: Date;
  completed_at: Date | null;
}

/** The scheduler is down while deadlines pass; started again, it catches up. */
describe('catching up after downtime', () => {
  let system: RunningSystem;
  let scheduler: RunningScheduler | undefined;
  const env = { SCHEDULER_CATCH_UP_RATE: String(CATCH_UP_RATE), SCHEDULER_CATCH_UP_AFTER_MS: '300' };

  const endingsOf = (ids: string[]) =>
    withDatabase(system.databaseUrl, async (db) => {
      const { rows } = await db.query(
        `SELECT id, status, timeout_at, completed_at FROM waitpoint_tokens WHERE id = ANY($1) ORDER BY timeout_at`,
        [ids.map((id) => id.replace(/^waitpoint_/, ''))],
      );
      return rows as Ending[];
    });

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await scheduler?.stop();
    await system?.stop();
  });

  it('times out every overdue token, oldest first, at the catch-up rate, without starving new work', async () => {
    const api = tokenApi(system);
    scheduler = await startScheduler(system, { env });

    // Deadlines 20 ms apart, learned by the scheduler, which then goes down before any is due.
    // Created one after the other, so that token ids (the order within a batch of time-outs)
    // follow the deadlines. That took over 4 s on a loaded machine: hence 5 s, and the check below.
    const setUpAt = Date.now();
    const firstDeadline = setUpAt + 5_000;
    const ids: string[] = [];
    for (let i = 0; i < OVERDUE + COMPLETED_WHILE_DOWN; i++) {
      ids.push((await api.create({ timeout: new Date(firstDeadline + 20 * i).toISOString() })).id);
    }
    await eventually('the timers to be recorded', () =>
      withDatabase(system.databaseUrl, async (db) => {
        const { rows } = await db.query(`SELECT count(*)::int AS n FROM scheduler_timers`);
        return rows[0].n === ids.length ? true : undefined;
      }),
    );
    await scheduler.stop();
    scheduler = undefined;
    if (Date.now() >= firstDeadline) {
      throw new Error(`setting up took ${Date.now() - setUpAt} ms, past the first deadline, which the scheduler may have fired`);
    }

    // While it is down: every deadline passes, and a few tokens are completed late.
    const completedWhileDown = ids.slice(0, COMPLETED_WHILE_DOWN);
    for (const id of completedWhileDown) await api.complete(id, { late: true });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstDeadline + 20 * ids.length + 500 - Date.now())));
    expect((await endingsOf(ids)).filter((e) => e.status === 'WAITING')).toHaveLength(OVERDUE);

    scheduler = await startScheduler(system, { env });
    // New work arriving while the backlog drains still fires on time.
    const fresh = await api.create({ timeout: '1s' });

    const endings = await eventually(
      'every overdue token to time out',
      async () => {
        const rows = await endingsOf(ids);
        return rows.every((r) => r.status !== 'WAITING') ? rows : undefined;
      },
      20_000,
    );
    const freshToken = await eventually('the fresh token to time out', async () => {
      const token = await api.retrieve(fresh.id);
      return token.status === 'TIMED_OUT' ? token : undefined;
    });

    // Completed while the scheduler was down: stays completed.
    const completedIds = new Set(completedWhileDown.map((id) => id.replace(/^waitpoint_/, '')));
    for (const ending of endings) {
      expect(ending.status).toBe(completedIds.has(ending.id) ? 'COMPLETED' : 'TIMED_OUT');
    }
    // Oldest first: in deadline order, the time-out times never go backwards.
    const timedOut = endings.filter((e) => e.status === 'TIMED_OUT');
    const firedAt = timedOut.map((e) => e.completed_at!.getTime());
    expect(firedAt).toEqual([...firedAt].sort((a, b) => a - b));
    // At a bounded rate: OVERDUE timers at CATCH_UP_RATE per second take at least (OVERDUE / rate) s, give or take a tick.
    const drainSeconds = (firedAt[firedAt.length - 1] - firedAt[0]) / 1000;
    expect(drainSeconds).toBeGreaterThan(OVERDUE / CATCH_UP_RATE - 0.5);
    // Not starved: the fresh token fired on time, in the middle of the catch-up.
    const freshLateMs = Date.parse(freshToken.completedAt) - Date.parse(freshToken.timeoutAt);
    expect(freshLateMs).toBeLessThan(300);
    expect(Date.parse(freshToken.completedAt)).toBeLessThan(firedAt[firedAt.length - 1]);
  });
});
