import { FaultSystem } from './support/fault-system';
import { startPrivateNats } from './support/private-nats';
import { PrivatePostgres } from './support/private-postgres';
import { sleep } from './support/processes';
import { auditAndReport, explained, steadyLoad } from './support/scenario';

const OUTAGE_MS = 5_000;

describe('fault: PostgreSQL stopped and restarted under load', () => {
  let nats: Awaited<ReturnType<typeof startPrivateNats>>;
  let postgres: PrivatePostgres;
  let system: FaultSystem;

  beforeAll(async () => {
    [nats, postgres] = await Promise.all([startPrivateNats(), PrivatePostgres.create()]);
    system = new FaultSystem({ natsUrl: nats.server.url, postgresAdminUrl: postgres.adminUrl });
    await system.start();
  });

  afterAll(async () => {
    await system?.stop();
    await Promise.all([nats?.dispose(), postgres?.dispose()]);
  });

  it('answers 503 while the database is down, then resumes writing, relaying and timing out without a restart', async () => {
    const load = steadyLoad(system);
    load.start();
    await sleep(5_000);
    const stoppedAt = Date.now();
    // `fast` ends every session at once: each pooled connection of each app breaks.
    await postgres.stop('fast');
    await sleep(OUTAGE_MS);
    await postgres.start();
    const restartedAt = Date.now();
    await explained(system, () => system.waitUntilServing(60_000));
    await sleep(8_000);
    await load.stop();

    const recoveryMs = load.recoveryMs(restartedAt);
    await auditAndReport('3 PostgreSQL restarted', system, load, nats.server.url, recoveryMs, {
      downMs: restartedAt - stoppedAt,
    });
    expect(recoveryMs).toBeDefined();
    // Only "try again" answers that say what is wrong, and none once recovered.
    expect(load.errorSummary().filter((line) => !/× 503 .*(PostgreSQL|NATS|token service)/.test(line))).toEqual([]);
    expect(load.errorSummary(restartedAt + recoveryMs! + 1_000)).toEqual([]);
  });
});
