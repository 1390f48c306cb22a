import { DataSource } from 'typeorm';
import { dropDatabase, requirePostgres, testDatabaseUrl, uniqueRunName } from '../../../../test/support/services';
import { openSchedulerDatabase } from './scheduler-database';
import { EXACT_PENDING_COUNT_LIMIT, TimerStore } from './timer-store';

/**
 * The pending-timer count behind the waitpoints_scheduler_timers_pending gauge (read at every
 * scrape): exact while small, PostgreSQL's estimate once the table holds more timers than are
 * counted one by one, so a scrape never reads millions of rows.
 */
describe('counting pending timers', () => {
  let db: DataSource;
  let databaseUrl: string;
  let store: TimerStore;

  beforeAll(async () => {
    await requirePostgres();
    databaseUrl = testDatabaseUrl(uniqueRunName());
    db = await openSchedulerDatabase({ url: databaseUrl, poolSize: 2 });
    store = new TimerStore(db);
  });

  afterAll(async () => {
    await db?.destroy();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  const addTimers = (from: number, to: number) =>
    db.query(
      `INSERT INTO scheduler_timers (token_id, environment, due_at)
       SELECT 'token-' || i, 'dev', now() + interval '1 hour' FROM generate_series($1::int, $2::int) i`,
      [from, to],
    );

  it('is exact up to the limit', async () => {
    await addTimers(1, EXACT_PENDING_COUNT_LIMIT);
    expect(await store.countPending()).toBe(EXACT_PENDING_COUNT_LIMIT);
  });

  it('is the statistics estimate above it: at least the limit, and near the real count', async () => {
    const total = EXACT_PENDING_COUNT_LIMIT * 2;
    await addTimers(EXACT_PENDING_COUNT_LIMIT + 1, total);
    await db.query('ANALYZE scheduler_timers');

    const counted = await store.countPending();

    expect(counted).toBeGreaterThan(EXACT_PENDING_COUNT_LIMIT);
    expect(Math.abs(counted - total)).toBeLessThan(total * 0.1);
  });
});
