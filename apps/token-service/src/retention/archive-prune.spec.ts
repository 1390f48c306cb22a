import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSystemArchiveStore } from './archive-store';
import { ArchivedEvent, EventArchive } from './event-archive';
import { runRetentionCommand } from './retention-cli';

let dir: string;
let archive: EventArchive;

const eventOf = (tokenId: string, position: number): ArchivedEvent => ({
  global_position: String(position),
  transaction_id: '1',
  stream_id: `token-${tokenId}`,
  stream_version: 1,
  event_id: `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`,
  event_type: 'TokenCreated',
  schema_version: 1,
  data: { tokenId },
  metadata: {},
  recorded_at: '2026-01-01T00:00:00.000000Z',
});

/** Archives one token finished at `finishedAt` (ids sort like ULIDs: a letter per token is enough). */
const archiveToken = (tokenId: string, finishedAt: string, position: number) =>
  archive.write([{ id: tokenId, finishedAt: new Date(finishedAt) }], [eventOf(tokenId, position)]);

const keys = () => archive.store.list('events/');

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'waitpoints-prune-'));
  archive = new EventArchive(new FileSystemArchiveStore(dir));
  await archiveToken('01aaaa', '2026-01-01T10:15:00Z', 1);
  await archiveToken('01bbbb', '2026-01-01T10:45:00Z', 2);
  await archiveToken('01cccc', '2026-01-01T11:20:00Z', 3);
  await archiveToken('01dddd', '2026-01-02T00:05:00Z', 4);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('finding a token in the archive', () => {
  it('gives each event once, even when a failed pass archived its token twice', async () => {
    // The first pass wrote its segment, then failed before its delete committed; the next archived the token again.
    await archiveToken('01aaaa', '2026-01-01T10:15:00Z', 1);
    expect((await keys()).filter((key) => key.endsWith('.manifest.json') && key.includes('01aaaa-01aaaa'))).toHaveLength(2);
    expect((await archive.find('01aaaa')).map((event) => event.global_position)).toEqual(['1']);
  });
});

describe('pruning the archive (its own retention, whole hours of finish at a time)', () => {
  it('removes the hours that ended before the cutoff, and only those', async () => {
    const report = await archive.prune(new Date('2026-01-01T11:30:00Z'));
    expect(report).toMatchObject({ periods: ['2026-01-01T10'], segments: 2, events: 2, deleted: 4 });
    expect(report.bytes).toBeGreaterThan(0);
    expect(await archive.find('01aaaa')).toEqual([]);
    expect(await archive.find('01bbbb')).toEqual([]);
    // The hour of 11:20 ends at 12:00, after the cutoff: kept whole.
    expect(await archive.find('01cccc')).toHaveLength(1);
    expect(await archive.find('01dddd')).toHaveLength(1);
    // The emptied hour's directory went with its last object; the day's directory stays for hour 11.
    expect(readdirSync(join(dir, 'events/2026/01/01'))).toEqual(['11']);
  });

  it('in a dry run, reports what it would remove and removes nothing', async () => {
    const before = await keys();
    const report = await archive.prune(new Date('2026-01-03T00:00:00Z'), { dryRun: true });
    expect(report).toMatchObject({ periods: ['2026-01-01T10', '2026-01-01T11', '2026-01-02T00'], segments: 4, events: 4, deleted: 0 });
    expect(await keys()).toEqual(before);
  });

  it('also removes a segment that an interrupted write left without its manifest', async () => {
    mkdirSync(join(dir, 'events/2026/01/01/10'), { recursive: true });
    writeFileSync(join(dir, 'events/2026/01/01/10/orphan.ndjson.gz'), 'left behind');
    await archive.prune(new Date('2026-01-01T11:00:00Z'));
    expect((await keys()).filter((key) => key.startsWith('events/2026/01/01/10/'))).toEqual([]);
  });

  it('is `npm run archive:prune -- --before <day | age> [--dry-run]`', async () => {
    const printed: string[] = [];
    const env = { ARCHIVE_DIR: dir, DATABASE_URL: 'postgres://unused@127.0.0.1/unused' };
    expect(await runRetentionCommand(['prune', '--before', '2026-01-02', '--dry-run'], env, (l) => printed.push(l))).toBe(0);
    expect(printed.join('\n')).toMatch(
      /Would remove 2 hour\(s\) of finished tokens before 2026-01-02T00:00:00.000Z: 3 segment\(s\), 3 events/,
    );
    expect(await archive.find('01aaaa')).toHaveLength(1);

    expect(await runRetentionCommand(['prune', '--before', '2026-01-02'], env, (l) => printed.push(l))).toBe(0);
    expect(await archive.find('01cccc')).toEqual([]);
    expect(await archive.find('01dddd')).toHaveLength(1);

    // An age: everything finished more than a day ago (all of it, in 2026-01).
    expect(await runRetentionCommand(['prune', '--before', '1d'], env, (l) => printed.push(l))).toBe(0);
    expect(await keys()).toEqual([]);

    expect(await runRetentionCommand(['prune'], env, (l) => printed.push(l))).toBe(2);
    expect(await runRetentionCommand(['prune', '--before', 'last tuesday'], env, (l) => printed.push(l))).toBe(2);
  });
});
