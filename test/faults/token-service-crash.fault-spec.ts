import { FaultSystem } from './support/fault-system';
import { startPrivateNats } from './support/private-nats';
import { sleep } from './support/processes';
import { auditAndReport, explained, SHARED_PG_ADMIN_URL, steadyLoad } from './support/scenario';

describe('fault: kill -9 of the token-service under load, then a restart', () => {
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

  it('keeps every acknowledged create and completion, and publishes each stored event to JetStream exactly once', async () => {
    const load = steadyLoad(system);
    load.start();
    await sleep(6_000);
    await system.tokenServices[0].kill();
    await sleep(2_000);
    system.tokenServices[0].start();
    const restartedAt = Date.now();
    await explained(system, () => system.waitUntilServing(60_000));
    await sleep(8_000);
    await load.stop();

    const recoveryMs = load.recoveryMs(restartedAt);
    await auditAndReport('1 kill -9 token-service + restart', system, load, nats.server.url, recoveryMs, {
      downMs: 2_000,
    });
    expect(recoveryMs).toBeDefined();
    // Every failure is a clean answer: 503 with a message, never a hang.
    expect(load.errorSummary().filter((line) => !/× 503 /.test(line))).toEqual([]);
  });
});
