import { EventArchive } from './event-archive';
import { FileSystemArchiveStore } from './archive-store';
import { describeRetention } from './token-retention';

/** The line the token-service logs at start: what retention will do to this deployment's tokens. */
describe('what retention says at start', () => {
  const policy = {
    defaultMs: 30 * 86_400_000,
    overrides: new Map([
      ['prod', 90 * 86_400_000],
      ['dev', 3_600_000],
      ['audit', undefined],
    ]),
  };

  it('names each retention, the schedule, and that nothing is kept without ARCHIVE_DIR', () => {
    expect(describeRetention({ policy, batchSize: 1000, intervalMs: 60_000 })).toBe(
      'token retention: finished tokens are removed 30d after they finished (prod: 90d, dev: 1h, audit: kept forever), ' +
        'checked every 1m in batches of 1000; without ARCHIVE_DIR, retention only removes finished tokens and keeps no copy',
    );
  });

  it('says where the events are archived first', () => {
    const archive = new EventArchive(new FileSystemArchiveStore('/var/lib/waitpoints/archive'));
    expect(describeRetention({ policy, batchSize: 500, intervalMs: 30_000, archive })).toMatch(
      /checked every 30s in batches of 500; their events are archived to \/var\/lib\/waitpoints\/archive first$/,
    );
  });
});
