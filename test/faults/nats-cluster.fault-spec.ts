import { connect } from 'nats';
import { WaitpointsClient } from '@waitpoints/sdk';
import { eventStreamName } from '@waitpoints/contracts';
import { outputsBucketName, uploadsBucketName } from '@waitpoints/contracts/nats/output-store';
import { FAULTS_API_KEY, FaultSystem } from './support/fault-system';
import { PrivateNatsCluster, startPrivateNatsCluster } from './support/private-nats';
import { sleep, step } from './support/processes';
import { withDatabase } from './support/audit';
import { auditAndReport, SHARED_PG_ADMIN_URL, steadyLoad } from './support/scenario';

describe('fault: one node of a three-node NATS cluster killed under load (streams with 3 replicas)', () => {
  let cluster: PrivateNatsCluster;
  let system: FaultSystem;

  beforeAll(async () => {
    cluster = await startPrivateNatsCluster(3);
    system = new FaultSystem({
      natsUrl: cluster.urls,
      postgresAdminUrl: SHARED_PG_ADMIN_URL,
      env: { JETSTREAM_REPLICAS: '3' },
    });
    await system.start();
  });

  afterAll(async () => {
    await system?.stop();
    await cluster?.dispose();
  });

  async function streamInfo(servers: string, name: string) {
    const nc = await connect({ servers: servers.split(','), timeout: 5000 });
    try {
      return await (await nc.jetstreamManager()).streams.info(name);
    } finally {
      await nc.close();
    }
  }

  it('keeps serving and loses nothing when the node leading the event stream dies', async () => {
    const streamName = eventStreamName(system.subjectPrefix);
    // The event stream and both object-store buckets are replicated on all three nodes.
    for (const name of [streamName, `OBJ_${uploadsBucketName(system.subjectPrefix)}`, `OBJ_${outputsBucketName(system.subjectPrefix)}`]) {
      expect((await step(`stream info of ${name}`, 15_000, () => streamInfo(cluster.urls, name))).config.num_replicas).toBe(3);
    }

    const load = steadyLoad(system);
    load.start();
    await sleep(8_000);
    const leaderName = (await step('finding the stream leader', 15_000, () => streamInfo(cluster.urls, streamName))).cluster?.leader;
    const victim = cluster.nodes.find((node) => node.logFile.endsWith(`${leaderName}.log`))!;
    expect(victim).toBeDefined();
    await step(`killing ${leaderName}`, 20_000, () => victim.kill());
    const killedAt = Date.now();
    await sleep(15_000);
    await step('stopping the load', 30_000, () => load.stop());

    // Waiters are served from the gateway's JetStream feed, whose consumer may have lived on the
    // dead node: completions after the failover must still reach them.
    const client = new WaitpointsClient({ baseURL: system.baseUrl, secretKey: FAULTS_API_KEY });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => client.createToken({ timeout: '1h' })));
    const waits = tokens.map((token) => client.forToken<{ n: number }>(token.id, { maxWait: '15s' }));
    await sleep(500);
    await Promise.all(tokens.map((token, n) => client.completeToken(token.id, { n })));
    const results = await step('waiters after the failover', 20_000, () => Promise.all(waits)).catch(async (error: Error) => {
      // Where did the completions stop: the event store, JetStream, or the gateway's feed?
      const survivorsNow = cluster.nodes
        .filter((node) => node !== victim)
        .map((node) => node.url)
        .join(',');
      const stream = await streamInfo(survivorsNow, streamName).catch((e: Error) => ({ error: e.message }));
      const stored = await withDatabase(
        system.databaseUrl,
        async (db) => (await db.query(`SELECT count(*)::int AS n, max(global_position)::text AS last FROM es_events`)).rows[0],
      );
      const checkpoint = await withDatabase(system.databaseUrl, async (db) => (await db.query(`SELECT * FROM es_checkpoints`)).rows);
      throw new Error(
        `${error.message}\nstream: ${JSON.stringify((stream as { state?: unknown }).state ?? stream)}` +
          `\nstored: ${JSON.stringify(stored)}\ncheckpoint: ${JSON.stringify(checkpoint)}\n${system.logs(15)}`,
      );
    });
    expect(results.map((result) => (result.ok ? result.output.n : result.error.message))).toEqual(tokens.map((_, n) => n));

    const survivors = cluster.nodes
      .filter((node) => node !== victim)
      .map((node) => node.url)
      .join(',');
    const recoveryMs = load.recoveryMs(killedAt);
    const info = await step('stream info from the survivors', 15_000, () => streamInfo(survivors, streamName));
    await auditAndReport('6 NATS cluster: stream leader killed', system, load, survivors, recoveryMs, {
      killedNode: leaderName,
      newLeader: info.cluster?.leader,
    });
    expect(info.cluster?.leader).not.toBe(leaderName);
    expect(recoveryMs).toBeDefined();
    // Requests caught mid-failover get a clean 503; afterwards the service simply continues.
    expect(load.errorSummary().filter((line) => !/× 503 /.test(line))).toEqual([]);
    expect(load.errorSummary(killedAt + recoveryMs! + 1_000)).toEqual([]);
  });
});
