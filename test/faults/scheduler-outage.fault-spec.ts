import { withDatabase, waitForOverdueTimeouts } from './support/audit';
import { FaultSystem } from './support/fault-system';
import { startPrivateNats } from './support/private-nats';
import { sleep } from './support/processes';
import { auditAndReport, explained, SHARED_PG_ADMIN_URL, steadyLoad } from './support/scenario';

/** The full two minutes in `npm run test:faults`; CI may shorten it (FAULTS_SCHEDULER_OUTAGE_MS=15000). */
const OUTAGE_MS = Number(process.env.FAULTS_SCHEDULER_OUTAGE_MS ?? 120_000);

describe(`fault: the scheduler down for ${OUTAGE_MS / 1000} s of deadlines, then restarted`, () => {
  let nats: Awaited<ReturnType<typeof startPrivateNats>>;
  let system: FaultSystem;

  beforeAll(async () => {
    nats = await startPrivateNats();
    system = new FaultSystem({ natsUrl: nats.server.url, postgresAdminUrl: SHARED_PG_ADMIN_URL });
    await system.start();
  });

  afterAll(async () => {
    await system?.stop();
    await nats?.dispose();
  });

  it('times out every overdue token exactly once after the restart, and none that was completed', async () => {
    // Half the tokens wait for a 2 s timeout, half are completed after 300 ms.
    const load = steadyLoad(system, {
      ratePerSecond: 40,
      plan: (n) => (n % 2 === 0 ? { timeout: '2s' } : { timeout: '1h', completeAfterMs: 300 }),
    });
    load.start();
    await sleep(3_000);
    const scheduler = system.schedulers[0];
    // A crash: it holds leases on timers due soon, which must not stay stuck with it.
    await scheduler.kill();
    const killedAt = Date.now();
    await sleep(OUTAGE_MS);

    const overdueAtRestart: string[] = await withDatabase(system.databaseUrl, async (db) =>
      (await db.query(`SELECT id FROM waitpoint_tokens WHERE status = 'WAITING' AND timeout_at < now()`)).rows.map(
        (r: { id: string }) => r.id,
      ),
    );
    scheduler.start();
    const restartedAt = Date.now();
    await explained(system, () => system.waitForSchedulers([scheduler]));
    const caughtUp = await waitForOverdueTimeouts(system.databaseUrl, 120_000, 0);
    const recoveryMs = Date.now() - restartedAt;
    await sleep(3_000);
    await load.stop();

    const outcomes = await withDatabase(system.databaseUrl, async (db) => {
      const { rows } = await db.query(
        `SELECT t.id, t.status,
                (SELECT count(*) FROM es_events e WHERE e.stream_id = 'token-' || t.id AND e.event_type = 'TokenTimedOut')::int AS timeouts
           FROM waitpoint_tokens t WHERE t.id = ANY($1::text[])`,
        [overdueAtRestart],
      );
      return rows as { id: string; status: string; timeouts: number }[];
    });
    const notTimedOutOnce = outcomes.filter((t) => t.status !== 'TIMED_OUT' || t.timeouts !== 1);
    const completedThenTimedOut = [...load.ackedCompletes.keys()].filter((id) => outcomes.some((t) => t.id === id));

    await auditAndReport(`4 scheduler down ${OUTAGE_MS / 1000} s`, system, load, nats.server.url, recoveryMs, {
      downMs: restartedAt - killedAt,
      overdueAtRestart: overdueAtRestart.length,
      catchUpMs: caughtUp.waitedMs,
    });
    expect(overdueAtRestart.length).toBeGreaterThan(Math.min(100, OUTAGE_MS / 100));
    expect(outcomes).toHaveLength(overdueAtRestart.length);
    expect(notTimedOutOnce).toEqual([]);
    expect(completedThenTimedOut).toEqual([]);
    expect(caughtUp.stillWaiting).toBe(0);
    // Deadlines learned by the dead instance but never acknowledged come back after the ingest's
    // 10 s ack wait at worst; the backlog itself drains in well under a second.
    expect(recoveryMs).toBeLessThan(30_000);
    // The scheduler's outage is invisible to API clients.
    expect(load.errorSummary()).toEqual([]);
  });
});
