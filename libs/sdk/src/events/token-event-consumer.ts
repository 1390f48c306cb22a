import { AckPolicy, ConsumerConfig, ConsumerMessages, DeliverPolicy, JsMsg, NatsConnection, connect, nanos } from 'nats';
import {
  BEFORE_FIRST_EVENT,
  DEFAULT_NATS_URL,
  DEFAULT_SUBJECT_PREFIX,
  EVENT_KIND,
  EventEnvelope,
  TokenEvent,
  TokenEventKind,
  eventStreamName,
  eventSubjects,
  OutboxPosition,
  parseDuration,
  StoredEvent,
} from '@waitpoints/contracts';
import { LargeOutputStore } from '@waitpoints/contracts/nats/output-store';
import { alreadyCaughtUp, catchUpFromEventStore, positionOf } from '@waitpoints/contracts/nats/event-store-catch-up';

/** A token event whose `type` tells its `data` apart: `switch (event.type)` narrows `event.data`. */
export type TokenEventEnvelope = { [T in TokenEvent['type']]: EventEnvelope<Extract<TokenEvent, { type: T }>> }[TokenEvent['type']];

export interface TokenEventDelivery {
  event: TokenEventEnvelope;
  subject: string;
  /** 1 the first time; more when JetStream hands the same event out again (crash, error, ack timeout). */
  deliveryCount: number;
  redelivered: boolean;
  /** Position in the stream (JetStream's sequence); 0 for an event read from the event store. */
  streamSequence: number;
  /**
   * The event's place in the order events are published (text that sorts in that order). Keep
   * the last one you handled, with the handler's effects, and return it from
   * `catchUp.lastHandledPosition`. Undefined only on messages published by a version without positions.
   */
  position?: OutboxPosition;
  /** `jetstream`, or `event-store` when the catch-up read it because it had aged out of the stream. */
  source: 'jetstream' | 'event-store';
  /** Tells JetStream the handler is still busy, so the ack deadline starts over. */
  working(): void;
}

export interface TokenEventConsumerOptions {
  /** Name of the durable consumer: every instance of one service uses the same name and shares the work. */
  durableName: string;
  handler: (delivery: TokenEventDelivery) => Promise<void> | void;
  /** Default: `NATS_URL`, else `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  /** Default: `NATS_SUBJECT_PREFIX`, else `waitpoints`. */
  subjectPrefix?: string;
  /** Only these kinds of event (default: all of them). */
  kinds?: TokenEventKind[];
  /** Only this environment's tokens (default: every environment). */
  environment?: string;
  /** Where a consumer created now starts: every stored event (`all`, default) or the next one (`new`). */
  deliverFrom?: 'all' | 'new';
  /** How long a delivery may stay unacknowledged before it is handed out again (default 30s). */
  ackWait?: string | number;
  /** Pause before redelivering an event whose handler threw (default 1s). */
  retryDelay?: string | number;
  /** Deliveries of one event before JetStream gives up on it (default: no limit). */
  maxDeliver?: number;
  /** Events handled at the same time by this instance (default 1: one after another, in stream order). */
  concurrency?: number;
  /** Called when a handler throws (the event is redelivered after `retryDelay`). Default: console.error. */
  onError?: (error: unknown, delivery: TokenEventDelivery) => void;
  /** Reuse a connection instead of opening one (it is then left open by `stop()`). */
  connection?: NatsConnection;
  /** Put outputs over 256 KiB back into `data.output` (default true); otherwise `data.outputRef` names the stored object. */
  resolveLargeOutputs?: boolean;
  /**
   * Catch up from the event store when this consumer was away longer than JetStream keeps
   * messages (`JETSTREAM_MAX_AGE`, 7 days by default). Before taking events from JetStream, the
   * consumer compares the position you last handled with the oldest message the stream still
   * holds; if events aged out in between, it reads them from the token-service (which must be
   * running) and hands them to `handler`, in order, with `source: 'event-store'`, then
   * continues on JetStream without handing any event twice. Without this option, events that
   * aged out are simply never seen.
   */
  catchUp?: {
    /**
     * The `position` of the last event this service handled, as it stored it; undefined when it
     * has handled none (then a new durable consumer with `deliverFrom: 'all'` catches up from the
     * first stored event; with `'new'`, or a durable consumer that already had messages, it does
     * not catch up).
     */
    lastHandledPosition: () => Promise<OutboxPosition | undefined> | OutboxPosition | undefined;
    /** Events per request to the token-service (default and most: 1000). */
    pageSize?: number;
  };
}

export interface TokenEventConsumer {
  readonly durableName: string;
  /** Events handled and acknowledged by this instance (including those read from the event store). */
  readonly handled: number;
  /** Events this instance handled from the event store because they had aged out of JetStream. */
  readonly caughtUp: number;
  /** Stops taking events, lets the running handlers finish (and acknowledge), then disconnects. */
  stop(): Promise<void>;
}

/**
 * Consumes token events from JetStream with a durable consumer, at least once:
 *
 * - an event is acknowledged only after `handler` resolved; if it throws, the event comes
 *   back after `retryDelay`; if the process dies, it comes back after `ackWait`;
 * - the consumer and its position live on the NATS server, so a restart continues where the
 *   last acknowledged event left off, and several instances with one `durableName` share work;
 * - the same event can therefore arrive more than once (`redelivered`, `deliveryCount`):
 *   recognise repeats by `event.eventId` (unique per event), e.g. by recording it in the same
 *   transaction as the handler's effect;
 * - with `catchUp`, events that aged out of JetStream while the consumer was away are read
 *   from the event store first (resolving only once they are handled), then JetStream follows.
 */
export async function consumeTokenEvents(options: TokenEventConsumerOptions): Promise<TokenEventConsumer> {
  const settings = readSettings(options);
  const ownConnection = !options.connection;
  const connection =
    options.connection ??
    (await connect({ servers: settings.servers, name: `waitpoints-consumer-${options.durableName}`, maxReconnectAttempts: -1 }));
  try {
    const { deliveredBefore } = await ensureDurable(connection, settings, options.durableName);
    const largeOutputs = settings.resolveLargeOutputs ? LargeOutputStore.open(connection, settings.subjectPrefix) : undefined;
    largeOutputs?.catch(() => undefined);
    const running = new RunningConsumer(options, settings, connection, ownConnection, largeOutputs);
    await running.catchUp(deliveredBefore);
    await running.consume();
    return running;
  } catch (error) {
    if (ownConnection) await connection.close().catch(() => undefined);
    throw error;
  }
}

interface Settings {
  servers: string[];
  subjectPrefix: string;
  streamName: string;
  filterSubject: string;
  kinds?: Set<TokenEventKind>;
  deliverPolicy: DeliverPolicy;
  ackWaitMs: number;
  retryDelayMs: number;
  maxDeliver: number;
  concurrency: number;
  resolveLargeOutputs: boolean;
}

function readSettings(options: TokenEventConsumerOptions): Settings {
  const env = process.env;
  const subjectPrefix = options.subjectPrefix ?? env.NATS_SUBJECT_PREFIX ?? DEFAULT_SUBJECT_PREFIX;
  const servers = [options.servers ?? (env.NATS_URL ?? DEFAULT_NATS_URL).split(',')].flat().map((s) => s.trim());
  if (!/^[A-Za-z0-9_-]+$/.test(options.durableName)) {
    throw new RangeError(`durableName "${options.durableName}" may only use letters, digits, "_" and "-"`);
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a whole number of at least 1');
  // One kind filters on the server; several need client-side filtering, since NATS before
  // 2.10 takes only one filter subject per consumer.
  const kinds = options.kinds && options.kinds.length > 0 ? new Set(options.kinds) : undefined;
  const kindPart = kinds?.size === 1 ? [...kinds][0] : '*';
  return {
    servers,
    subjectPrefix,
    streamName: eventStreamName(subjectPrefix),
    filterSubject: `${subjectPrefix}.evt.token.${kindPart}.${options.environment ?? '*'}.*`,
    kinds,
    deliverPolicy: options.deliverFrom === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
    ackWaitMs: milliseconds('ackWait', options.ackWait, 30_000),
    retryDelayMs: milliseconds('retryDelay', options.retryDelay, 1_000),
    maxDeliver: options.maxDeliver ?? -1,
    concurrency,
    resolveLargeOutputs: options.resolveLargeOutputs ?? true,
  };
}

function milliseconds(name: string, value: string | number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0)
    throw new RangeError(`${name} "${value}" must be a duration such as 30s, or milliseconds`);
  return ms;
}

/** Creates or updates the durable consumer; `deliveredBefore`: it existed and JetStream had handed it messages. */
async function ensureDurable(connection: NatsConnection, settings: Settings, durableName: string): Promise<{ deliveredBefore: boolean }> {
  const jsm = await connection.jetstreamManager();
  try {
    await jsm.streams.info(settings.streamName);
  } catch (error) {
    throw new Error(
      `JetStream stream ${settings.streamName} not found (${(error as Error).message}): is the token-service running with NATS_SUBJECT_PREFIX=${settings.subjectPrefix}?`,
      { cause: error },
    );
  }
  const tuning: Partial<ConsumerConfig> = {
    ack_wait: nanos(settings.ackWaitMs),
    max_deliver: settings.maxDeliver,
    // Room for events a stopped or crashed instance still holds until their ack_wait ends,
    // so they never block the instances that carry on.
    max_ack_pending: Math.max(settings.concurrency, 1000),
  };
  let existing;
  try {
    existing = await jsm.consumers.info(settings.streamName, durableName);
  } catch (error) {
    if (!/consumer not found/i.test((error as Error).message)) throw error;
  }
  if (!existing) {
    await jsm.consumers.add(settings.streamName, {
      ...tuning,
      durable_name: durableName,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: settings.deliverPolicy,
      filter_subject: settings.filterSubject,
    });
    return { deliveredBefore: false };
  }
  if (existing.config.filter_subject !== settings.filterSubject) {
    throw new Error(
      `Durable consumer "${durableName}" already exists with filter ${existing.config.filter_subject ?? '(none)'}, not ${settings.filterSubject}; ` +
        'use another durableName, or delete the old consumer (nats consumer rm) if its position can go',
    );
  }
  await jsm.consumers.update(settings.streamName, durableName, tuning);
  return { deliveredBefore: existing.delivered.stream_seq > 0 };
}

class RunningConsumer implements TokenEventConsumer {
  private handledCount = 0;
  private caughtUpCount = 0;
  /** The last event the catch-up handed over: JetStream's copies up to it are skipped. */
  private caughtUpUntil?: OutboxPosition;
  private readonly inFlight = new Set<Promise<void>>();
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private stopping = false;

  constructor(
    private readonly options: TokenEventConsumerOptions,
    private readonly settings: Settings,
    private readonly connection: NatsConnection,
    private readonly ownConnection: boolean,
    private readonly largeOutputs: Promise<LargeOutputStore> | undefined,
  ) {}

  get durableName(): string {
    return this.options.durableName;
  }

  get handled(): number {
    return this.handledCount;
  }

  get caughtUp(): number {
    return this.caughtUpCount;
  }

  /**
   * With `catchUp`: hands over, from the event store, what aged out of JetStream since the last
   * handled event. With no position recorded, a new consumer that starts from every stored event
   * (`deliverFrom: 'all'`) reads from the first one; one whose durable consumer already had
   * messages (it ran before it recorded positions) has nothing to go by and starts recording now.
   */
  async catchUp(deliveredBefore: boolean): Promise<void> {
    const catchUp = this.options.catchUp;
    if (!catchUp) return;
    const startsFromFirstEvent = this.settings.deliverPolicy === DeliverPolicy.All && !deliveredBefore;
    const lastHandled = (await catchUp.lastHandledPosition()) ?? (startsFromFirstEvent ? BEFORE_FIRST_EVENT : undefined);
    if (lastHandled === undefined) return;
    const { until } = await catchUpFromEventStore({
      connection: this.connection,
      subjectPrefix: this.settings.subjectPrefix,
      lastHandled,
      pageSize: catchUp.pageSize,
      stopped: () => this.stopping,
      handlePage: async (events) => {
        for (const stored of events) await this.handleStored(stored);
      },
    });
    this.caughtUpUntil = until;
  }

  async consume(): Promise<void> {
    const consumer = await this.connection.jetstream().consumers.get(this.settings.streamName, this.options.durableName);
    const messages = await consumer.consume({ max_messages: this.settings.concurrency });
    this.messages = messages;
    this.loop = this.run(messages);
    // A connection closed under us (or by a shared owner) ends the consumption too;
    // otherwise nats.js keeps its heartbeat monitor running against a dead connection.
    void this.connection.closed().then(() => messages.stop());
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close().catch(() => undefined);
    await this.loop;
    await Promise.all(this.inFlight);
    if (this.ownConnection) await this.connection.drain().catch(() => undefined);
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    for await (const message of messages) {
      if (this.stopping) {
        message.nak(); // received but not handled: back to JetStream for the next instance, now
        continue;
      }
      const work = this.handle(message).finally(() => this.inFlight.delete(work));
      this.inFlight.add(work);
      if (this.inFlight.size >= this.settings.concurrency) await Promise.race(this.inFlight);
    }
  }

  /** Whether this consumer takes the event at all (its kinds and environment; JetStream filtered the subject already). */
  private wants(event: TokenEventEnvelope): boolean {
    if (this.settings.kinds && !this.settings.kinds.has(EVENT_KIND[event.type])) return false;
    return this.options.environment === undefined || event.data.environment === this.options.environment;
  }

  private async handle(message: JsMsg): Promise<void> {
    let event: TokenEventEnvelope;
    try {
      event = message.json<TokenEventEnvelope>();
    } catch {
      message.term('unreadable token event');
      return;
    }
    const position = positionOf(message);
    if (!this.wants(event) || alreadyCaughtUp(position, this.caughtUpUntil)) {
      message.ack();
      return;
    }
    const delivery: TokenEventDelivery = {
      event,
      subject: message.subject,
      deliveryCount: message.info.deliveryCount,
      redelivered: message.redelivered,
      streamSequence: message.seq,
      position,
      source: 'jetstream',
      working: () => message.working(),
    };
    try {
      await this.handOver(delivery);
    } catch (error) {
      message.nak(this.settings.retryDelayMs);
      (this.options.onError ?? defaultOnError)(error, delivery);
      return;
    }
    message.ack();
    this.handledCount++;
  }

  /**
   * An event from the event store goes through the handler as a JetStream message would: a
   * throw retries it after `retryDelay`, up to `maxDeliver` attempts, and the catch-up waits
   * for it, so events are still handled in order.
   */
  private async handleStored({ position, event: stored }: StoredEvent): Promise<void> {
    const event = stored as TokenEventEnvelope;
    if (!this.wants(event)) return;
    const subject = eventSubjects(this.settings.subjectPrefix).of(EVENT_KIND[event.type], event.data.environment, event.data.tokenId);
    for (let attempt = 1; !this.stopping; attempt++) {
      const delivery: TokenEventDelivery = {
        event,
        subject,
        deliveryCount: attempt,
        redelivered: attempt > 1,
        streamSequence: 0,
        position,
        source: 'event-store',
        working: () => undefined,
      };
      try {
        await this.handOver(delivery);
        this.handledCount++;
        this.caughtUpCount++;
        return;
      } catch (error) {
        (this.options.onError ?? defaultOnError)(error, delivery);
        if (this.settings.maxDeliver > 0 && attempt >= this.settings.maxDeliver) return;
        await new Promise((resolve) => setTimeout(resolve, this.settings.retryDelayMs));
      }
    }
  }

  private async handOver(delivery: TokenEventDelivery): Promise<void> {
    const { event } = delivery;
    if (this.largeOutputs && event.type === 'TokenCompleted' && event.data.outputRef !== undefined) {
      const { outputRef, ...data } = event.data;
      delivery.event = { ...event, data: { ...data, output: await (await this.largeOutputs).readEventOutput(outputRef) } };
    }
    await this.options.handler(delivery);
  }
}

function defaultOnError(error: unknown, delivery: TokenEventDelivery): void {
  console.error(
    `token event ${delivery.event.eventId} (${delivery.event.type}, delivery ${delivery.deliveryCount}) failed and will be redelivered:`,
    error,
  );
}
