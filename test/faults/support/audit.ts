import { connect } from 'nats';
import { Client } from 'pg';
import { EventEnvelope, eventStreamName, NATS_MSG_ID_HEADER, tokenStreamId } from '@waitpoints/contracts';
import { FileSystemArchiveStore } from '../../../apps/token-service/src/retention/archive-store';
import { ArchivedEvent, EventArchive } from '../../../apps/token-service/src/retention/event-archive';
import { sleep, step } from './processes';
import type { SteadyLoad } from './steady-load';

/**
 * Holds the system to what it acknowledged: compares the client's acknowledged ids with the
 * event store, the projection and the JetStream stream.
 */
export interface AuditResult {
  /** Acknowledged creates/completes missing from the event store or the projection. */
  lostWrites: string[];
  /** Stored events that never reached JetStream. */
  eventsMissingFromJetStream: string[];
  /** JetStream messages whose event id appears more than once, or is not in the event store. */
  duplicateJetStreamMessages: string[];
  unknownJetStreamMessages: string[];
  /** Tokens with more than one terminal event (completed/timed out/cancelled). */
  tokensWithSeveralTerminalEvents: string[];
  storedEvents: number;
  jetStreamMessages: number;
  /** Acknowledged completions of tokens that had already timed out (a 200 that changes nothing). */
  completionsAfterTimeout: number;
  /**
   * With an archive: archived events that differ from another copy of themselves (in the
   * archive, in es_events, or as JetStream carried them), and removed tokens that had not
   * finished. Counted as lost: history that is not what was stored.
   */
  archiveMismatches: string[];
  /** Tokens whose history retention removed from es_events (found only in the archive). */
  removedTokens: number;
  archivedEvents: number;
}

export const lostCount = (a: AuditResult) => a.lostWrites.length + a.eventsMissingFromJetStream.length + a.archiveMismatches.length;
export const duplicatedCount = (a: AuditResult) =>
  a.duplicateJetStreamMessages.length + a.unknownJetStreamMessages.length + a.tokensWithSeveralTerminalEvents.length;

/** Each terminal event and the status it leaves (what a removed token's row said). */
const STATUS_AFTER: Record<string, string> = {
  TokenCompleted: 'COMPLETED',
  TokenTimedOut: 'TIMED_OUT',
  TokenCancelled: 'CANCELLED',
  TokenRejected: 'REJECTED',
};
const TERMINAL = Object.keys(STATUS_AFTER);
/** PostgreSQL and this process read the same host clock; the slack covers rounding only. */
const CLOCK_SLACK_MS = 5;

export async function withDatabase<T>(databaseUrl: string, work: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** Waits until the outbox relay has published every stored event (or the time is up). */
export async function waitForOutbox(databaseUrl: string, natsUrl: string, subjectPrefix: string, timeoutMs = 60_000): Promise<void> {
  const nc = await connect({ servers: natsUrl.split(','), timeout: 5000 });
  try {
    const jsm = await nc.jetstreamManager();
    const deadline = Date.now() + timeoutMs;
    let stored = 0;
    let published = 0;
    while (Date.now() < deadline) {
      stored = await withDatabase(databaseUrl, async (db) => Number((await db.query('SELECT count(*) AS n FROM es_events')).rows[0].n));
      published = (await jsm.streams.info(eventStreamName(subjectPrefix)).catch(() => undefined))?.state.messages ?? 0;
      if (published >= stored) return;
      await sleep(250);
    }
    // The audit will name what is missing.
  } finally {
    await nc.close();
  }
}

/**
 * Every message of the stream: its Nats-Msg-Id and the event id inside. Read message by message
 * from the stream leader, with no consumer: after a cluster node died, creating a consumer could
 * time out (NATS may place it on the dead peer), and an ordered consumer's resets could stall.
 */
export async function readEventStream(
  natsUrl: string,
  streamName: string,
): Promise<{ msgId?: string; eventId: string; envelope: EventEnvelope }[]> {
  const nc = await connect({ servers: natsUrl.split(','), timeout: 5000 });
  try {
    const jsm = await nc.jetstreamManager();
    const { state } = await jsm.streams.info(streamName);
    const result: { msgId?: string; eventId: string; envelope: EventEnvelope }[] = [];
    const readOne = async (seq: number) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const message = await jsm.streams.getMessage(streamName, { seq });
          const envelope = message.json<EventEnvelope>();
          return { msgId: message.header?.get(NATS_MSG_ID_HEADER), eventId: envelope.eventId, envelope };
        } catch (error) {
          if (/no message found/i.test((error as Error).message)) return undefined; // removed from the stream
          if (attempt >= 3) throw error;
          await sleep(500);
        }
      }
    };
    const parallel = 32;
    for (let from = state.first_seq; from <= state.last_seq; from += parallel) {
      const seqs = Array.from({ length: Math.min(parallel, state.last_seq - from + 1) }, (_, i) => from + i);
      for (const message of await Promise.all(seqs.map(readOne))) if (message) result.push(message);
    }
    return result;
  } finally {
    await nc.close();
  }
}

/** What identifies an event's content: two copies of one event must agree on all of it. */
const contentOf = (event: { stream_id: string; stream_version: number; event_type: string; data: unknown; metadata?: unknown }) =>
  JSON.stringify([event.stream_id, Number(event.stream_version), event.event_type, event.data, event.metadata ?? null]);

/**
 * Every archived event by id, read through the archive's own reader (checksums checked). A
 * pass that failed after writing its segment archives its tokens again: copies must be equal.
 */
export async function readArchive(archiveDir: string): Promise<{ events: Map<string, ArchivedEvent>; mismatches: string[] }> {
  const archive = new EventArchive(new FileSystemArchiveStore(archiveDir));
  const events = new Map<string, ArchivedEvent>();
  const mismatches: string[] = [];
  for (const manifest of await archive.manifests()) {
    for (const event of await archive.readSegment(manifest)) {
      const earlier = events.get(event.event_id);
      if (earlier && contentOf(earlier) !== contentOf(event)) mismatches.push(`archived twice, differently: ${event.event_id}`);
      events.set(event.event_id, event);
    }
  }
  return { events, mismatches };
}

export async function audit(options: {
  databaseUrl: string;
  natsUrl: string;
  subjectPrefix: string;
  load: SteadyLoad;
  /** ARCHIVE_DIR of a system with retention on: removed tokens are audited from there. */
  archiveDir?: string;
}): Promise<AuditResult> {
  const { databaseUrl, natsUrl, subjectPrefix, load, archiveDir } = options;
  await step('waiting for the outbox', 75_000, () => waitForOutbox(databaseUrl, natsUrl, subjectPrefix));
  const { events, tokens } = await step('reading the event store', 15_000, () =>
    withDatabase(databaseUrl, async (db) => ({
      events: (
        await db.query(
          `SELECT event_id::text AS id, stream_id, stream_version, event_type, data, metadata,
                  (extract(epoch FROM recorded_at) * 1000)::float8 AS recorded_ms
           FROM es_events`,
        )
      ).rows as StoredEvent[],
      tokens: (await db.query('SELECT id, status, output FROM waitpoint_tokens')).rows as {
        id: string;
        status: string;
        output: string | null;
      }[],
    })),
  );

  // Retention removes finished tokens' events after archiving them: what the event store held
  // is es_events plus the archive. An event in both (a pass that archived, then failed to
  // delete) must be the same in both.
  const archiveMismatches: string[] = [];
  let removedStreams = new Set<string>();
  let archivedCount = 0;
  const archived = archiveDir ? await step('reading the archive', 60_000, () => readArchive(archiveDir)) : undefined;
  if (archived) {
    archiveMismatches.push(...archived.mismatches);
    archivedCount = archived.events.size;
    const storedById = new Map(events.map((event) => [event.id, event]));
    const liveStreams = new Set(events.map((event) => event.stream_id));
    removedStreams = new Set([...archived.events.values()].map((e) => e.stream_id).filter((streamId) => !liveStreams.has(streamId)));
    for (const event of archived.events.values()) {
      const stored = storedById.get(event.event_id);
      if (stored) {
        if (contentOf(stored) !== contentOf(event)) archiveMismatches.push(`archived ${event.event_id} differs from es_events`);
      } else if (liveStreams.has(event.stream_id)) {
        archiveMismatches.push(`${event.stream_id}: ${event.event_type} ${event.event_id} removed while the token's other events stayed`);
      } else {
        events.push({ ...event, id: event.event_id, recorded_ms: new Date(event.recorded_at).getTime() });
      }
    }
  }

  const typesByStream = new Map<string, string[]>();
  const finishedAt = new Map<string, { type: string; atMs: number; output: string | null }>();
  for (const event of events) {
    const types = typesByStream.get(event.stream_id) ?? [];
    types.push(event.event_type);
    typesByStream.set(event.stream_id, types);
    if (TERMINAL.includes(event.event_type)) {
      finishedAt.set(event.stream_id, {
        type: event.event_type,
        atMs: Number(event.recorded_ms),
        output: (event.data as { output?: string } | null)?.output ?? null,
      });
    }
  }
  const projected = new Map(tokens.map((t) => [t.id, t]));
  // A removed token's row went with its events: its terminal event says what the row said.
  for (const streamId of removedStreams) {
    const finished = finishedAt.get(streamId);
    if (!finished) archiveMismatches.push(`${streamId} was removed but had not finished (${typesByStream.get(streamId)?.join(', ')})`);
    const tokenId = streamId.replace(/^token-/, '');
    projected.set(tokenId, { id: tokenId, status: finished ? STATUS_AFTER[finished.type] : 'WAITING', output: finished?.output ?? null });
  }

  const lostWrites: string[] = [];
  for (const tokenId of load.ackedCreates.keys()) {
    const types = typesByStream.get(tokenStreamId(tokenId)) ?? [];
    if (!types.includes('TokenCreated')) lostWrites.push(`create ${tokenId}: no TokenCreated in es_events`);
    if (!projected.has(tokenId)) lostWrites.push(`create ${tokenId}: no row in waitpoint_tokens`);
  }
  let completionsAfterTimeout = 0;
  for (const [tokenId, { output, ackedAt }] of load.ackedCompletes) {
    const streamId = tokenStreamId(tokenId);
    const row = projected.get(tokenId);
    const finished = finishedAt.get(streamId);
    if (finished?.type === 'TokenCompleted') {
      if (row?.status !== 'COMPLETED' || row.output !== output) {
        lostWrites.push(`complete ${tokenId}: projection says ${row?.status ?? 'nothing'} with output ${row?.output ?? 'none'}, not ours`);
      }
    } else if (finished && finished.atMs <= ackedAt + CLOCK_SLACK_MS && row?.status !== 'WAITING') {
      // "Already finished" is a 200 too: the token had ended before this completion was answered.
      completionsAfterTimeout++;
    } else {
      lostWrites.push(
        `complete ${tokenId}: acknowledged, but the token is ${row?.status ?? 'missing'} (${finished?.type ?? 'no terminal event'})`,
      );
    }
  }

  const tokensWithSeveralTerminalEvents = [...typesByStream.entries()]
    .filter(([, types]) => types.filter((t) => TERMINAL.includes(t)).length > 1)
    .map(([streamId, types]) => `${streamId}: ${types.join(', ')}`);

  const messages = await step('reading the JetStream stream', 75_000, () => readEventStream(natsUrl, eventStreamName(subjectPrefix)));
  const seen = new Map<string, number>();
  for (const message of messages) {
    if (message.msgId !== message.eventId) {
      throw new Error(`JetStream message with Nats-Msg-Id ${message.msgId} carries event ${message.eventId}`);
    }
    seen.set(message.eventId, (seen.get(message.eventId) ?? 0) + 1);
    // The copy JetStream carried is what the event store held when it was published.
    const copy = archived?.events.get(message.eventId);
    const { envelope } = message;
    const published = {
      stream_id: envelope.streamId,
      stream_version: envelope.streamVersion,
      event_type: envelope.type,
      data: envelope.data,
      metadata: envelope.metadata,
    };
    if (copy && contentOf(copy) !== contentOf(published))
      archiveMismatches.push(`archived ${message.eventId} differs from its JetStream copy`);
  }
  const storedIds = new Set(events.map((e) => e.id));
  return {
    lostWrites,
    eventsMissingFromJetStream: events.filter((e) => !seen.has(e.id)).map((e) => `${e.event_type} ${e.id} of ${e.stream_id}`),
    duplicateJetStreamMessages: [...seen.entries()].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`),
    unknownJetStreamMessages: [...seen.keys()].filter((id) => !storedIds.has(id)),
    tokensWithSeveralTerminalEvents,
    storedEvents: events.length,
    jetStreamMessages: messages.length,
    completionsAfterTimeout,
    archiveMismatches,
    removedTokens: removedStreams.size,
    archivedEvents: archivedCount,
  };
}

interface StoredEvent {
  id: string;
  stream_id: string;
  stream_version: number;
  event_type: string;
  data: unknown;
  metadata: unknown;
  recorded_ms: number;
}

/** Readable summary of what an audit found (first few of each kind). */
export function describeAudit(result: AuditResult): string {
  const part = (title: string, items: string[]) =>
    items.length === 0 ? '' : `\n${title} (${items.length}):\n  ${items.slice(0, 10).join('\n  ')}`;
  return (
    `stored events ${result.storedEvents}, JetStream messages ${result.jetStreamMessages}` +
    part('acknowledged but lost', result.lostWrites) +
    part('stored but not on JetStream', result.eventsMissingFromJetStream) +
    part('on JetStream more than once', result.duplicateJetStreamMessages) +
    part('on JetStream but not stored', result.unknownJetStreamMessages) +
    part('tokens with several terminal events', result.tokensWithSeveralTerminalEvents) +
    part('archived history that is not what was stored', result.archiveMismatches)
  );
}

/** Tokens still WAITING although their deadline passed more than `graceMs` ago. */
export async function overdueWaitingTokens(databaseUrl: string, graceMs = 1_000): Promise<number> {
  return withDatabase(databaseUrl, async (db) =>
    Number(
      (
        await db.query(
          `SELECT count(*) AS n FROM waitpoint_tokens WHERE status = 'WAITING' AND timeout_at < now() - make_interval(secs => $1)`,
          [graceMs / 1000],
        )
      ).rows[0].n,
    ),
  );
}

/**
 * Waits until every token due within `horizonMs` has fired (so no timeout lands between the
 * audit's two reads); returns how long that took and how many overdue tokens were left.
 */
export async function waitForOverdueTimeouts(
  databaseUrl: string,
  timeoutMs: number,
  horizonMs = 60_000,
): Promise<{ waitedMs: number; stillWaiting: number }> {
  const started = Date.now();
  const dueSoon = () =>
    withDatabase(databaseUrl, async (db) =>
      Number(
        (
          await db.query(
            `SELECT count(*) AS n FROM waitpoint_tokens WHERE status = 'WAITING' AND timeout_at < now() + make_interval(secs => $1)`,
            [horizonMs / 1000],
          )
        ).rows[0].n,
      ),
    );
  while ((await dueSoon()) > 0 && Date.now() - started < timeoutMs) await sleep(250);
  return { waitedMs: Date.now() - started, stillWaiting: await overdueWaitingTokens(databaseUrl) };
}

export async function countTimedOut(databaseUrl: string): Promise<number> {
  return withDatabase(databaseUrl, async (db) =>
    Number((await db.query(`SELECT count(*) AS n FROM es_events WHERE event_type = 'TokenTimedOut'`)).rows[0].n),
  );
}
