import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { tokenStreamId } from '@waitpoints/contracts';
import type { ArchiveStore } from './archive-store';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Bump when a line or manifest changes shape; readers refuse versions they do not know. */
export const ARCHIVE_FORMAT_VERSION = 1;

/**
 * One es_events row as archived: every column, as text where JSON would lose precision
 * (global_position is a bigint, transaction_id an xid8), so a row can be inserted back as it was.
 */
export interface ArchivedEvent {
  global_position: string;
  transaction_id: string;
  stream_id: string;
  stream_version: number;
  event_id: string;
  event_type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  recorded_at: string;
}

/** The es_events columns as ArchivedEvent has them (timestamps in ISO 8601, UTC). */
export const ARCHIVED_EVENT_COLUMNS = `global_position::text AS global_position, transaction_id::text AS transaction_id,
  stream_id, stream_version, event_id, event_type, schema_version, data, metadata,
  to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS recorded_at`;

/** A token leaving hot storage: its id and when it finished (what decides its period). */
export interface ArchivedToken {
  id: string;
  finishedAt: Date;
}

/** Written after its segment, and read first: a segment without a manifest is not part of the archive. */
export interface SegmentManifest {
  formatVersion: number;
  /** The key of the gzip-compressed NDJSON data object. */
  segment: string;
  tokenCount: number;
  eventCount: number;
  firstFinishedAt: string;
  lastFinishedAt: string;
  /** The smallest and largest token id in the segment (ids sort by creation time). */
  firstTokenId: string;
  lastTokenId: string;
  sha256: string;
  bytes: number;
  writtenAt: string;
}

const PREFIX = 'events/';
const MANIFEST_SUFFIX = '.manifest.json';
const SEGMENT_SUFFIX = '.ndjson.gz';

/** `events/<yyyy>/<mm>/<dd>/<hh>/`: the period (UTC hour of the finish) a token is archived under. */
export function periodPrefix(finishedAt: Date): string {
  const iso = finishedAt.toISOString();
  return `${PREFIX}${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}/`;
}

/** `2026-11-30` (a UTC day) or `2026-11-30T14` (an hour) → the key prefix of its segments. */
export function prefixOfPeriod(period: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}))?$/.exec(period.trim());
  if (!match) throw new Error(`period "${period}" must be a UTC day (2026-11-30) or hour (2026-11-30T14)`);
  const [, year, month, day, hour] = match;
  return `${PREFIX}${year}/${month}/${day}/${hour === undefined ? '' : `${hour}/`}`;
}

/** What `EventArchive.prune` removed (or, in a dry run, would remove). */
export interface PruneReport {
  /** The periods removed whole, as `2026-11-30T14` (UTC hours of finish). */
  periods: string[];
  segments: number;
  events: number;
  bytes: number;
  /** Objects deleted, manifests and segments together (0 in a dry run). */
  deleted: number;
}

const PERIOD_KEY = /^events\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//;

/** The archive failed to write or verify a segment: nothing of the batch may be deleted. */
export class ArchiveWriteError extends Error {}

/**
 * The event archive: segments of gzip-compressed newline-delimited JSON (one es_events row per
 * line), one per batch and period, each with a JSON manifest written after it. Objects are
 * immutable and named so that concurrent writers never pick the same key.
 */
export class EventArchive {
  constructor(readonly store: ArchiveStore) {}

  /**
   * Writes the events of `tokens` (each token's every event, and nothing else), one segment per
   * period, and verifies each by reading it back (checksum and event count) before returning.
   * Throws ArchiveWriteError when anything did not land as written.
   */
  async write(tokens: ArchivedToken[], events: ArchivedEvent[]): Promise<SegmentManifest[]> {
    const byPeriod = new Map<string, ArchivedToken[]>();
    for (const token of tokens) {
      const prefix = periodPrefix(token.finishedAt);
      byPeriod.set(prefix, [...(byPeriod.get(prefix) ?? []), token]);
    }
    const eventsByStream = new Map<string, ArchivedEvent[]>();
    for (const event of events) eventsByStream.set(event.stream_id, [...(eventsByStream.get(event.stream_id) ?? []), event]);
    const manifests: SegmentManifest[] = [];
    for (const [prefix, periodTokens] of byPeriod) {
      const periodEvents = periodTokens
        .flatMap((token) => eventsByStream.get(tokenStreamId(token.id)) ?? [])
        .sort((a, b) => compareBigint(a.global_position, b.global_position));
      manifests.push(await this.writeSegment(prefix, periodTokens, periodEvents));
    }
    return manifests;
  }

  private async writeSegment(prefix: string, tokens: ArchivedToken[], events: ArchivedEvent[]): Promise<SegmentManifest> {
    const finished = tokens.map((t) => t.finishedAt.toISOString()).sort();
    const ids = tokens.map((t) => t.id).sort();
    // Finish time first (a period's segments list in the order their tokens finished), then the
    // token id range (archive:find picks segments by their key alone), then a random part
    // (two writers never pick the same key).
    const name = `${finished[0].replace(/[-:.]/g, '')}-${ids[0]}-${ids[ids.length - 1]}-${randomBytes(6).toString('hex')}`;
    const segment = `${prefix}${name}${SEGMENT_SUFFIX}`;
    const body = await gzipAsync(Buffer.from(events.map((event) => `${JSON.stringify(event)}\n`).join('')));
    const manifest: SegmentManifest = {
      formatVersion: ARCHIVE_FORMAT_VERSION,
      segment,
      tokenCount: tokens.length,
      eventCount: events.length,
      firstFinishedAt: finished[0],
      lastFinishedAt: finished[finished.length - 1],
      firstTokenId: ids[0],
      lastTokenId: ids[ids.length - 1],
      sha256: sha256(body),
      bytes: body.length,
      writtenAt: new Date().toISOString(),
    };
    try {
      await this.store.put(segment, body);
      const readBack = await this.readSegment(manifest);
      if (readBack.length !== events.length) {
        throw new Error(`${segment} holds ${readBack.length} events, ${events.length} were written`);
      }
      const manifestKey = manifestKeyOf(segment);
      const manifestBody = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      await this.store.put(manifestKey, manifestBody);
      if (!(await this.store.get(manifestKey)).equals(manifestBody)) throw new Error(`${manifestKey} does not read back as written`);
    } catch (error) {
      throw new ArchiveWriteError(`archiving to ${this.store.location} failed: ${(error as Error).message}`, { cause: error });
    }
    return manifest;
  }

  /** The events of a segment, after checking its checksum against the manifest. */
  async readSegment(manifest: SegmentManifest): Promise<ArchivedEvent[]> {
    const body = await this.store.get(manifest.segment);
    if (body.length !== manifest.bytes || sha256(body) !== manifest.sha256) {
      throw new Error(`${manifest.segment} does not match its manifest (sha256 or size differs): the object is damaged`);
    }
    const text = (await gunzipAsync(body)).toString('utf8');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as ArchivedEvent);
  }

  /** The manifests under a key prefix (a period), oldest segment first. */
  async manifests(prefix = PREFIX, mayHold: (key: string) => boolean = () => true): Promise<SegmentManifest[]> {
    const keys = (await this.store.list(prefix)).filter((key) => key.endsWith(MANIFEST_SUFFIX) && mayHold(key));
    const manifests: SegmentManifest[] = [];
    for (const key of keys) {
      const manifest = JSON.parse((await this.store.get(key)).toString('utf8')) as SegmentManifest;
      if (manifest.formatVersion !== ARCHIVE_FORMAT_VERSION) {
        throw new Error(`${key} has format version ${manifest.formatVersion}; this build reads ${ARCHIVE_FORMAT_VERSION}`);
      }
      manifests.push(manifest);
    }
    return manifests;
  }

  /**
   * Removes the periods (UTC hours of finish) that ended at or before `before`, whole: the
   * archive's own retention, for deployments that keep archived history for a limited time.
   * Each period's manifests go first, so a segment stops being part of the archive before its
   * data goes; then every other object of the period, including a segment an interrupted write
   * or prune left without its manifest. Periods that end after `before` are not touched, so a
   * period still being written to is never pruned when `before` is in the past.
   */
  async prune(before: Date, { dryRun = false }: { dryRun?: boolean } = {}): Promise<PruneReport> {
    const byPeriod = new Map<string, string[]>();
    for (const key of await this.store.list(PREFIX)) {
      const match = PERIOD_KEY.exec(key);
      if (!match) continue;
      const [, year, month, day, hour] = match;
      if (Date.UTC(+year, +month - 1, +day, +hour + 1) > before.getTime()) continue;
      const period = `${year}-${month}-${day}T${hour}`;
      const keys = byPeriod.get(period);
      if (keys) keys.push(key);
      else byPeriod.set(period, [key]);
    }
    const report: PruneReport = { periods: [...byPeriod.keys()].sort(), segments: 0, events: 0, bytes: 0, deleted: 0 };
    for (const period of report.periods) {
      const keys = byPeriod.get(period)!;
      const manifestKeys = keys.filter((key) => key.endsWith(MANIFEST_SUFFIX));
      for (const key of manifestKeys) {
        const manifest = JSON.parse((await this.store.get(key)).toString('utf8')) as SegmentManifest;
        report.segments++;
        report.events += manifest.eventCount;
        report.bytes += manifest.bytes;
      }
      if (dryRun) continue;
      for (const key of [...manifestKeys, ...keys.filter((key) => !key.endsWith(MANIFEST_SUFFIX))]) {
        await this.store.delete(key);
        report.deleted++;
      }
    }
    return report;
  }

  /**
   * Every archived event of one token. Only the manifests whose key's id range holds it are read,
   * then only their segments. (Not narrowed by the creation time in the ULID: ids come from the
   * id generator, finish times from the service clock, and nothing ties the two.)
   */
  async find(tokenId: string): Promise<ArchivedEvent[]> {
    const streamId = tokenStreamId(tokenId);
    // By event id: a pass that archived a batch and then failed before its delete committed
    // archives the same tokens again in its next segment, so an event can be in two segments.
    const found = new Map<string, ArchivedEvent>();
    for (const manifest of await this.manifests(PREFIX, (key) => keyMayHold(key, tokenId))) {
      if (tokenId < manifest.firstTokenId || tokenId > manifest.lastTokenId) continue;
      for (const event of await this.readSegment(manifest)) {
        if (event.stream_id === streamId) found.set(event.event_id, event);
      }
    }
    return [...found.values()].sort((a, b) => compareBigint(a.global_position, b.global_position));
  }
}

const KEY_RANGE = /\/[0-9TZ]+-([0-9a-z]+)-([0-9a-z]+)-[0-9a-f]+\.manifest\.json$/;

/** Whether a manifest's key leaves room for the token; a key of another shape is read to find out. */
function keyMayHold(key: string, tokenId: string): boolean {
  const range = KEY_RANGE.exec(key);
  return !range || (tokenId >= range[1] && tokenId <= range[2]);
}

export const manifestKeyOf = (segment: string) => segment.slice(0, -SEGMENT_SUFFIX.length) + MANIFEST_SUFFIX;

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

const compareBigint = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);
