import { Logger } from '@nestjs/common';
import { connect, headers, JetStreamClient, MsgHdrs, NatsConnection } from 'nats';
import { LargeOutputStore, needsOffload } from '@waitpoints/contracts/nats/output-store';
import { describeEventStreamLimits, EventStreamLimits, eventStreamConfig } from '@waitpoints/contracts/nats/event-stream';
import {
  CORRELATION_ID_HEADER,
  EVENT_KIND,
  EVENT_TYPE_HEADER,
  EventEnvelope,
  eventStreamName,
  eventSubjects,
  liveEventSubjects,
  NATS_MSG_ID_HEADER,
  OUTBOX_POSITION_HEADER,
  StoredEvent,
} from '@waitpoints/contracts';
import { contextFromTraceparent, inSpan, injectTraceHeaders, SpanKind } from '@waitpoints/platform';

export interface JetStreamOptions extends EventStreamLimits {
  servers: string[];
  subjectPrefix: string;
}

/**
 * Declares the event stream and publishes stored events to it. Every message carries
 * `Nats-Msg-Id = eventId`, so a re-publish after a crash is recognised and dropped, and the
 * event's outbox position (`Waitpoints-Outbox-Position`), so a consumer can tell what it
 * missed and catch up from the event store.
 */
export class JetStreamPublisher {
  private readonly logger = new Logger(JetStreamPublisher.name);
  private connection?: NatsConnection;
  private js?: JetStreamClient;
  private largeOutputs?: LargeOutputStore;
  private readonly subjects;
  private readonly liveSubjects;
  /** Live copies of committed events, waiting for the reply they go out with (see announce). */
  private readonly announcements: { subject: string; payload?: string; headers?: MsgHdrs }[] = [];
  private unrepliedAnnouncements?: NodeJS.Immediate;
  readonly streamName: string;

  constructor(private readonly options: JetStreamOptions) {
    this.subjects = eventSubjects(options.subjectPrefix);
    this.liveSubjects = liveEventSubjects(options.subjectPrefix);
    this.streamName = eventStreamName(options.subjectPrefix);
  }

  async connect(): Promise<void> {
    this.connection = await connect({
      servers: this.options.servers,
      name: 'waitpoints-outbox',
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
      // Every publish is a request for its PubAck; a stack captured per publish is pure overhead.
      noAsyncTraces: true,
    });
    await this.ensureStream();
    this.largeOutputs = await LargeOutputStore.open(this.connection, this.options.subjectPrefix, this.options.replicas);
    this.js = this.connection.jetstream();
  }

  /** The connection events are published on (readiness checks ping it). */
  get natsConnection(): NatsConnection | undefined {
    return this.connection;
  }

  /** Where outputs too large for one NATS message go (uploads in, token outputs out). */
  get outputs(): LargeOutputStore {
    if (!this.largeOutputs) throw new Error('JetStream publisher is not connected');
    return this.largeOutputs;
  }

  /** Creates the stream, or brings an existing one to the configured limits (a changed JETSTREAM_MAX_AGE applies at start). */
  private async ensureStream(): Promise<void> {
    const jsm = await this.connection!.jetstreamManager();
    const config = eventStreamConfig(this.options.subjectPrefix, this.options);
    const limits = describeEventStreamLimits(this.options);
    try {
      await jsm.streams.info(this.streamName);
    } catch (error) {
      if (!/stream not found/i.test(String((error as Error).message))) throw error;
      await jsm.streams.add(config);
      this.logger.log(`created JetStream stream ${this.streamName} on ${this.subjects.all}: ${limits}`);
      return;
    }
    await jsm.streams.update(this.streamName, config);
    this.logger.log(`JetStream stream ${this.streamName}: ${limits}`);
  }

  subjectOf(envelope: EventEnvelope): string {
    const data = envelope.data as { environment: string; tokenId: string };
    return this.subjects.of(EVENT_KIND[envelope.type], data.environment, data.tokenId);
  }

  /** Resolves once JetStream has stored (or recognised as duplicate) every event. */
  async publishAll(events: StoredEvent[]): Promise<void> {
    if (!this.js) throw new Error('JetStream publisher is not connected');
    const js = this.js;
    await Promise.all(
      events.map(({ position, event: envelope }) => {
        const publish = async () => {
          const h = headers();
          h.set(EVENT_TYPE_HEADER, envelope.type);
          h.set(OUTBOX_POSITION_HEADER, position);
          if (envelope.metadata?.correlationId) h.set(CORRELATION_ID_HEADER, envelope.metadata.correlationId);
          injectTraceHeaders(h);
          return js.publish(this.subjectOf(envelope), JSON.stringify(await this.fitForNats(envelope)), {
            msgID: envelope.eventId,
            headers: h,
          });
        };
        // The relay runs later than the command: its publish continues the trace of the command
        // that stored the event (metadata.traceparent); consumers link to this span (header).
        const stored = contextFromTraceparent(envelope.metadata?.traceparent);
        if (!stored) return publish();
        return inSpan(
          `publish ${envelope.type}`,
          {
            kind: SpanKind.PRODUCER,
            parent: stored,
            attributes: { 'messaging.system': 'nats', 'messaging.operation.type': 'send', 'messaging.message.id': envelope.eventId },
          },
          publish,
        );
      }),
    );
  }

  /**
   * The live copy: each event on core NATS right after its commit, so the gateways wake their
   * waiters without waiting for the outbox relay's round through JetStream. At most once and
   * best effort (a NATS outage drops it; the JetStream copy follows).
   *
   * The announcements wait for the command's reply, which follows the commit within
   * microseconds, and leave on the reply's connection just before it (`sendAnnouncements`), so
   * the two go out in one socket write instead of two; a commit that no reply follows (none
   * today) has them sent at the end of the event loop turn.
   *
   * Not announced: a creation (nobody can be waiting for a token before its create is answered:
   * the event stream reads the token first) and an event whose output must go through the object
   * store. Those reach the gateways through JetStream only. An instance whose outbox relay is not
   * the leader also sends a bare `commit` wake-up, which is all the leader listens to.
   */
  announce(envelopes: EventEnvelope[], { wakeLeader }: { wakeLeader: boolean }): void {
    for (const envelope of envelopes) {
      if (envelope.type === 'TokenCreated' || needsOffload((envelope.data as { output?: string }).output)) continue;
      const data = envelope.data as { environment: string; tokenId: string };
      const h = headers();
      h.set(NATS_MSG_ID_HEADER, envelope.eventId);
      h.set(EVENT_TYPE_HEADER, envelope.type);
      this.announcements.push({
        subject: this.liveSubjects.of(EVENT_KIND[envelope.type], data.environment, data.tokenId),
        payload: JSON.stringify(envelope),
        headers: h,
      });
    }
    if (wakeLeader) this.announcements.push({ subject: this.liveSubjects.commit });
    if (this.announcements.length > 0) this.unrepliedAnnouncements ??= setImmediate(() => this.sendAnnouncements());
  }

  /** Publishes the announcements waiting, on `connection` (the one a reply is about to leave on). */
  sendAnnouncements(connection: NatsConnection | undefined = this.connection): void {
    clearImmediate(this.unrepliedAnnouncements);
    this.unrepliedAnnouncements = undefined;
    const waiting = this.announcements.splice(0);
    if (!connection || connection.isClosed()) return;
    for (const { subject, payload, headers: h } of waiting) {
      try {
        connection.publish(subject, payload, h ? { headers: h } : undefined);
      } catch {
        // Reconnecting or draining: the JetStream copy will carry the event.
      }
    }
  }

  /**
   * Calls `wake` whenever another token-service instance commits while it does not lead the
   * outbox relay (the leader's wake-up; its own commits wake it directly).
   */
  onAnnounced(wake: () => void): () => void {
    const subscription = this.connection?.subscribe(this.liveSubjects.commit, { callback: () => wake() });
    return () => subscription?.unsubscribe();
  }

  /**
   * An event whose output would overflow a NATS message carries a reference to it instead.
   * Only the active relay calls this, so each object has a single writer. (Catch-up replies
   * refer to the same object without writing it: they only serve events already published.)
   */
  private async fitForNats(envelope: EventEnvelope): Promise<EventEnvelope> {
    const data = envelope.data as { output?: string };
    if (!needsOffload(data.output)) return envelope;
    const { output, ...rest } = data;
    const outputRef = await this.outputs.saveEventOutput(envelope.eventId, output);
    return { ...envelope, data: { ...rest, outputRef } } as EventEnvelope;
  }

  async close(): Promise<void> {
    await this.connection?.drain().catch(() => undefined);
    this.connection = undefined;
    this.js = undefined;
  }
}
