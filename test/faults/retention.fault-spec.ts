import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSystemArchiveStore } from '../../apps/token-service/src/retention/archive-store';
import { EventArchive } from '../../apps/token-service/src/retention/event-archive';
import { FaultSystem } from './support/fault-system';
import { startPrivateNats } from './support/private-nats';
import { PrivatePostgres } from './support/private-postgres';
import { sleep, waitUntil } from './support/processes';
import { auditAndReport, explained, steadyLoad } from './support/scenario';

/**
 * Retention at the shortest period it allows (1m), archiving, while the token-service is
 * killed mid-pass and PostgreSQL restarts: every acknowledged write is either still stored or in
 * the archive, the archive holds exactly what the event store and JetStream held, and only
 * finished tokens are removed.
 */
describe('fault: retention removing tokens while the token-service is killed and PostgreSQL restarts', () => {
  const archiveDir = mkdtempSync(join(tmpdir(), 'waitpoints-faults-archive-'));
  let nats: Awaited<ReturnType<typeof startPrivateNats>>;
  let postgres: PrivatePostgres;
  let system: FaultSystem;

  beforeAll(async () => {
    [nats, postgres] = await Promise.all([startPrivateNats(), PrivatePostgres.create()]);
    system = new FaultSystem({
      natsUrl: nats.server.url,
      postgresAdminUrl: postgres.adminUrl,
      env: {
        TOKEN_RETENTION: '1m',
        RETENTION_INTERVAL: '2s',
        // Small, slow batches: a pass lasts long enough for the kill to land inside one.
        RETENTION_BATCH_SIZE: '25',
        RETENTION_MAX_RATE: '50',
        ARCHIVE_DIR: archiveDir,
      },
    });
    await system.start();
  });

  afterAll(async () => {
    await system?.stop();
    await Promise.all([nats?.dispose(), postgres?.dispose()]);
    rmSync(archiveDir, { recursive: true, force: true });
  });

  it('loses nothing: each acknowledged write is stored or archived, as it was stored, and JetStream has each event once', async () => {
    const load = steadyLoad(system, { ratePerSecond: 40 });
    load.start();
    // The first tokens finish after about 2 s; retention takes them a minute later.
    await explained(system, () =>
      waitUntil('retention to archive a first segment', 120_000, async () => {
        if ((await new EventArchive(new FileSystemArchiveStore(archiveDir)).manifests()).length === 0) throw new Error('no segment yet');
      }),
    );

    await system.tokenServices[0].kill();
    await sleep(2_000);
    system.tokenServices[0].start();
    const restartedAt = Date.now();
    await explained(system, () => system.waitUntilServing(60_000));
    await sleep(5_000);

    const stoppedAt = Date.now();
    await postgres.stop('fast');
    await sleep(3_000);
    await postgres.start();
    const postgresBackAt = Date.now();
    await explained(system, () => system.waitUntilServing(60_000));
    await sleep(8_000);
    await load.stop();
    // One more pass after the faults, with nothing left half done.
    await sleep(4_000);

    const result = await auditAndReport(
      '7 retention + kill -9 token-service + PostgreSQL restart',
      system,
      load,
      nats.server.url,
      load.recoveryMs(restartedAt),
      {
        postgresDownMs: postgresBackAt - stoppedAt,
      },
    );
    // Retention did remove tokens (else this proves nothing), and only finished ones (audited).
    expect(result.removedTokens).toBeGreaterThan(0);
    expect(load.errorSummary().filter((line) => !/× 503 /.test(line))).toEqual([]);
  });
});
