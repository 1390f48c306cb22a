import { Logger } from '@nestjs/common';
import { AckPolicy, ConsumerMessages, DeliverPolicy, JsMsg, NatsConnection, connect, nanos } from 'nats';
import {
  BEFORE_FIRST_EVENT,
  EVENT_TYPE_HEADER,
  EventEnvelope,
  eventStreamName,
  eventSubjects,
  OutboxPosition,
} from '@waitpoints/contracts';
import { alreadyCaughtUp, catchUpFromEventStore, positionOf } from '@waitpoints/contracts/nats/event-store-catch-up';
import type { TimerStore } from '../database/timer-store';
import type { SchedulerMetrics } from '../metrics';
import { planIngest } from './ingest-plan';
import {
  contextFromTraceparent,
  endSpan,
  linkTo,
  SpanKind,
  startSpan,
  tracingEnabled,
  TRACEPARENT_HEADER,
  withTraceContext,
} from '@waitpoints/platform';
import { creationTraces } from '../firing/creation-traces';

export interface DeadlineIngestOptions {
  servers: string[];
  subjectPrefix: string;
  consumerName: string;
  batchSize: number;
  maxAckPending: number;
  /** Wait this long for more events before writing (0: only for the rest of the current burst). */
  lingerMs?: number;
  /** The same while every event waiting to be written ends a token (default: lingerMs). */
  forgetLingerMs?: number;
  /** Redelivery delay of a batch whose database write failed. */
  retryDelayMs?: number;
}

export interface IngestListener {
  /** Timers were added to the table (after commit). */
  scheduled(timers: { tokenId: string; dueAt: Date }[]): void;
  /** Timers moved to a new deadline by an extension, leases dropped (after commit). */
  moved(timers: { tokenId: string; dueAt: Date }[]): void;
  /** Tokens ended: their timers are gone from the table (after commit). */
  forgotten(tokenIds: string[]): void;
}

/**
 * How long an ingested batch may stay unacknowledged before JetStream hands it out again. It
 * bounds how late a deadline is learned after a scheduler crashes holding unacknowledged events
 * (the fault suite measured 30 s at 30 s), while a slow write that outlives it only costs an
 * idempotent second write. Pull requests expire as quickly, so a dead instance's open pull
 * does not keep collecting new events for long.
 */
const ACK_WAIT_MS = 10_000;
const PULL_EXPIRES_MS = 10_000;

/** Whether a message may set a deadline: a creation or an extension (or a message that does not say what it holds). */
function setsDeadline(message: JsMsg): boolean {
  const type = message.headers?.get(EVENT_TYPE_HEADER);
  return !type || type === 'TokenCreated' || type === 'TokenDeadlineExtended';
}

/**
 * Learns deadlines from the token events on JetStream through a durable pull consumer that
 * every scheduler instance shares. Messages are written to `scheduler_timers` in batches and
 * acknowledged only after that write has committed: a crash before the ack redelivers them,
 * and the write is idempotent, so nothing is lost and nothing is doubled.
 *
 * Each write also records the newest outbox position it ingested. Before consuming, the
 * scheduler catches up from the event store when events aged out of JetStream after that
 * position (it was away longer than JETSTREAM_MAX_AGE): a creation it never saw would be a
 * token that never times out.
 */
export class DeadlineIngest {
  private readonly logger = new Logger(DeadlineIngest.name);
  private connection?: NatsConnection;
  private messages?: ConsumerMessages;
  private buffer: JsMsg[] = [];
  private writing?: Promise<void>;
  private running = false;
  private starting?: Promise<void>;
  private ingested = 0;
  /** The last event the catch-up ingested: JetStream's copies up to it are acknowledged unread. */
  private caughtUpUntil?: OutboxPosition;

  constructor(
    private readonly options: DeadlineIngestOptions,
    private readonly store: TimerStore,
    private readonly metrics: SchedulerMetrics,
    private readonly listener: IngestListener,
  ) {}

  get streamName(): string {
    return eventStreamName(this.options.subjectPrefix);
  }

  /** The connection deadlines are consumed on (readiness checks ping it). */
  get natsConnection(): NatsConnection | undefined {
    return this.connection;
  }

  /** Events written and acknowledged so far by this instance. */
  get ingestedCount(): number {
    return this.ingested;
  }

  /** Connects and starts consuming; waits in the background for the stream if the token-service has not made it yet. */
  async start(): Promise<void> {
    this.running = true;
    this.connection = await connect({
      servers: this.options.servers,
      name: 'waitpoints-scheduler-ingest',
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
    });
    this.starting = this.consumeWhenStreamExists();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.starting?.catch(() => undefined);
    await this.messages?.close().catch(() => undefined);
    this.messages = undefined;
    while (this.writing) await this.writing;
    // Whatever was received but not written is simply redelivered to another instance.
    this.buffer = [];
    await this.connection?.drain().catch(() => undefined);
    this.connection = undefined;
  }

  private async consumeWhenStreamExists(): Promise<void> {
    let warned = false;
    let deliveredBefore = false;
    while (this.running) {
      try {
        deliveredBefore = await this.ensureConsumer();
        break;
      } catch (error) {
        if (!this.running) return;
        if (!warned) {
          this.logger.warn(`waiting for JetStream stream ${this.streamName} (the token-service creates it): ${(error as Error).message}`);
          warned = true;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    await this.catchUpFromEventStore(deliveredBefore);
    if (!this.running) return;
    const js = this.connection!.jetstream();
    const consumer = await js.consumers.get(this.streamName, this.options.consumerName);
    this.messages = await consumer.consume({
      max_messages: this.options.batchSize,
      expires: PULL_EXPIRES_MS,
      callback: (message) => this.receive(message),
    });
    this.logger.log(`learning deadlines from ${this.streamName} as durable consumer "${this.options.consumerName}"`);
  }

  /** Creates or updates the durable consumer; true when it existed and JetStream had handed it messages. */
  private async ensureConsumer(): Promise<boolean> {
    const jsm = await this.connection!.jetstreamManager();
    await jsm.streams.info(this.streamName);
    const config = {
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: this.options.maxAckPending,
    };
    try {
      const existing = await jsm.consumers.info(this.streamName, this.options.consumerName);
      await jsm.consumers.update(this.streamName, this.options.consumerName, config);
      return existing.delivered.stream_seq > 0;
    } catch (error) {
      if (!/consumer not found/i.test((error as Error).message)) throw error;
      await jsm.consumers.add(this.streamName, {
        ...config,
        durable_name: this.options.consumerName,
        ack_policy: AckPolicy.Explicit,
        // A new deployment of the scheduler learns every token created before it.
        deliver_policy: DeliverPolicy.All,
        filter_subject: eventSubjects(this.options.subjectPrefix).all,
        max_deliver: -1,
      });
      return false;
    }
  }

  /**
   * Ingests, from the event store, what aged out of JetStream since the newest event this
   * consumer recorded (from the first stored event for a new consumer; nothing for one that ran
   * before positions were recorded). Retried until it succeeds: the token-service answers the
   * reads, and may not be up yet.
   */
  private async catchUpFromEventStore(deliveredBefore: boolean): Promise<void> {
    let warned = false;
    while (this.running) {
      try {
        const lastIngested =
          (await this.store.ingestedUpTo(this.options.consumerName)) ?? (deliveredBefore ? undefined : BEFORE_FIRST_EVENT);
        if (lastIngested === undefined) return;
        const { caughtUp, until } = await catchUpFromEventStore({
          connection: this.connection!,
          subjectPrefix: this.options.subjectPrefix,
          lastHandled: lastIngested,
          stopped: () => !this.running,
          handlePage: async (events) => {
            await this.record(
              events.map((stored) => stored.event),
              events[events.length - 1].position,
            );
          },
        });
        this.caughtUpUntil = until;
        if (caughtUp > 0)
          this.logger.log(`learned deadlines from ${caughtUp} events that had aged out of JetStream (read from the event store)`);
        return;
      } catch (error) {
        if (!this.running) return;
        if (!warned) {
          this.logger.warn(`cannot yet catch up from the event store, retrying: ${(error as Error).message}`);
          warned = true;
        }
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /**
   * Called for each message as it arrives. The write waits for more: `lingerMs` when the buffer
   * holds an event that sets a deadline (the timer must exist before it is due), the longer
   * `forgetLingerMs` while it holds only events that end tokens (a timer left for a few hundred
   * milliseconds more can only fire a timeout that the token-service answers "already finished").
   */
  private receive(message: JsMsg): void {
    this.buffer.push(message);
    const linger = setsDeadline(message) ? (this.options.lingerMs ?? 0) : (this.options.forgetLingerMs ?? this.options.lingerMs ?? 0);
    if (!this.writing) this.writing = this.writeBuffered(linger);
    else if (this.buffer.length >= this.options.batchSize) this.endLinger?.();
    else this.lingerAtMost(linger);
  }

  private endLinger?: () => void;
  private lingerUntil = 0;
  private cancelLingerTimer?: () => void;

  private async writeBuffered(lingerMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.endLinger = () => {
        this.cancelLingerTimer?.();
        this.cancelLingerTimer = undefined;
        this.endLinger = undefined;
        resolve();
      };
      this.lingerAtMost(lingerMs);
    });
    while (this.buffer.length > 0 && this.running) {
      const batch = this.buffer.splice(0, this.options.batchSize);
      await this.write(batch);
    }
    this.writing = undefined;
  }

  /** Ends the current linger within `ms` (0: after the rest of this burst), unless it ends sooner already. */
  private lingerAtMost(ms: number): void {
    const end = this.endLinger;
    if (!end) return;
    const until = performance.now() + ms;
    if (this.cancelLingerTimer && until >= this.lingerUntil) return;
    this.cancelLingerTimer?.();
    this.lingerUntil = until;
    if (ms <= 0) {
      const immediate = setImmediate(end);
      this.cancelLingerTimer = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(end, ms);
      this.cancelLingerTimer = () => clearTimeout(timer);
    }
  }

  private async write(batch: JsMsg[]): Promise<void> {
    const envelopes: EventEnvelope[] = [];
    const readable: JsMsg[] = [];
    let newest: OutboxPosition | undefined;
    for (const message of batch) {
      const position = positionOf(message);
      if (alreadyCaughtUp(position, this.caughtUpUntil)) {
        message.ack();
        continue;
      }
      try {
        envelopes.push(message.json<EventEnvelope>());
        readable.push(message);
        if (position !== undefined && (newest === undefined || position > newest)) newest = position;
      } catch {
        this.logger.error(`dropping unreadable message ${message.subject} #${message.seq}`);
        message.term();
      }
    }
    const traced = this.traceIngest(readable, envelopes);
    try {
      await withTraceContext(traced.context, () => this.record(envelopes, newest));
    } catch (error) {
      this.logger.error(`could not record ${batch.length} token events, redelivering: ${(error as Error).message}`);
      for (const message of readable) message.nak(this.options.retryDelayMs ?? 1_000);
      traced.end(error);
      return;
    }
    for (const message of readable) message.ack();
    traced.end();
  }

  /** Writes what the events mean for the timers (and the newest position among them), then tells the listener. */
  private async record(envelopes: EventEnvelope[], newest: OutboxPosition | undefined): Promise<void> {
    const plan = planIngest(envelopes);
    const result = await this.store.apply(
      plan,
      newest === undefined ? undefined : { consumerName: this.options.consumerName, position: newest },
    );
    this.ingested += envelopes.length;
    this.metrics.scheduled.inc(result.scheduled.length);
    for (const { reason } of result.forgotten) {
      // A timed-out token's timer was fired (and counted) by some instance, or forced by an operator.
      if (reason !== 'timed_out') this.metrics.cancelled.inc({ reason });
    }
    if (result.scheduled.length > 0) this.listener.scheduled(result.scheduled);
    if (result.moved.length > 0) this.listener.moved(result.moved);
    if (plan.forget.length > 0) this.listener.forgotten(plan.forget.map((f) => f.tokenId));
  }

  /**
   * With tracing on: one CONSUMER span per traced event, in the trace of the command that stored
   * it and linked to the outbox's publish span; the batch's database write runs in the only
   * event's span, or in a batch span linked to each. Remembers creations for the firing's link.
   */
  private traceIngest(messages: JsMsg[], envelopes: EventEnvelope[]) {
    if (!tracingEnabled()) return { context: undefined, end: (_error?: unknown) => undefined };
    const spans: NonNullable<ReturnType<typeof startSpan>>[] = [];
    for (let i = 0; i < envelopes.length; i++) {
      const envelope = envelopes[i];
      if (envelope.type === 'TokenCreated') creationTraces.remember(envelope.data.tokenId, envelope.metadata?.traceparent);
      // An extension moves the timer but does not end the token: its firing still links to the creation.
      else if (envelope.type !== 'TokenDeadlineExtended') creationTraces.forget(envelope.data.tokenId);
      const stored = contextFromTraceparent(envelope.metadata?.traceparent);
      if (!stored) continue;
      const started = startSpan(`ingest ${envelope.type}`, {
        kind: SpanKind.CONSUMER,
        parent: stored,
        links: [linkTo(messages[i].headers?.get(TRACEPARENT_HEADER), { 'waitpoints.link': 'published_by' })],
        attributes: { 'messaging.system': 'nats', 'messaging.operation.type': 'process', 'messaging.message.id': envelope.eventId },
      });
      if (started) spans.push(started);
    }
    const batch =
      spans.length <= 1
        ? undefined
        : startSpan('ingest batch', {
            parent: 'root',
            links: spans.map(({ span }) => ({ context: span.spanContext() })),
            attributes: { 'messaging.batch.message_count': envelopes.length },
          });
    return {
      context: batch?.context ?? spans[0]?.context,
      end: (error?: unknown) => {
        for (const { span } of spans) endSpan(span, error);
        endSpan(batch?.span, error);
      },
    };
  }
}
