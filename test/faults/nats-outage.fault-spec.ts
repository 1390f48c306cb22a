import { FaultSystem, FAULTS_REQUEST_TIMEOUT_MS } from './support/fault-system';
import { startPrivateNats } from './support/private-nats';
import { sleep } from './support/processes';
import { auditAndReport, explained, SHARED_PG_ADMIN_URL, steadyLoad } from './support/scenario';

const OUTAGE_MS = 10_000;

describe('fault: NATS stopped for 10 s under load, then started again', () => {
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

  it('answers 503 with a clear message while NATS is down, recovers without a restart and loses nothing', async () => {
    const load = steadyLoad(system);
    load.start();
    await sleep(5_000);
    const stoppedAt = Date.now();
    await nats.server.stop();
    await sleep(OUTAGE_MS);
    await nats.server.start();
    const restartedAt = Date.now();
    // No app is restarted: they must find NATS again on their own.
    await explained(system, () => system.waitUntilServing(60_000));
    await sleep(8_000);
    await load.stop();

    const recoveryMs = load.recoveryMs(restartedAt);
    const during = load.records.filter((r) => r.startedAt >= stoppedAt + 500 && r.startedAt < restartedAt);
    await auditAndReport('2 NATS stopped 10 s', system, load, nats.server.url, recoveryMs, {
      downMs: restartedAt - stoppedAt,
      answersWhileDown: during.length,
      slowestAnswerWhileDownMs: load.slowestMs(stoppedAt, restartedAt),
    });

    expect(during.length).toBeGreaterThan(0);
    for (const record of during) {
      expect({ status: record.status, error: record.error }).toEqual({ status: 503, error: expect.stringMatching(/NATS/) });
    }
    // Never hangs past its own timeout (plus slack for a loaded machine).
    expect(load.slowestMs(stoppedAt, restartedAt)).toBeLessThan(FAULTS_REQUEST_TIMEOUT_MS + 2_000);
    expect(recoveryMs).toBeDefined();
    // Once recovered, it stays recovered.
    expect(load.errorSummary(restartedAt + recoveryMs! + 1_000)).toEqual([]);
  });
});
