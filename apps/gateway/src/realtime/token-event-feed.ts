import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AckPolicy, connect, ConsumerEvents, ConsumerMessages, DeliverPolicy, JsMsg, Msg, nanos, NatsConnection, Subscription } from 'nats';
import { LRUCache } from 'lru-cache';
import { EVENT_KIND, EventEnvelope, eventStreamName, liveEventSubjects, NATS_MSG_ID_HEADER, TokenView } from '@waitpoints/contracts';
import { consumeSpan } from '@waitpoints/platform';

/**
 * How long one pull of the feed's consumer lasts. nats.js derives the idle heartbeat from it
 * (half), so a consumer whose node died is noticed within a few seconds (the default, 30 s,
 * made that over a minute).
 */
const FEED_PULL_EXPIRES_MS = 5_000;
/** Missed heartbeats (each half of FEED_PULL_EXPIRES_MS) before the feed replaces its consumer. */
const FEED_MISSED_HEARTBEATS_LIMIT = 3;
/**
 * How long creating the consumer may take before the feed tries again. In a cluster that lost a
 * node, a creation placed on the lost node never answers; the next try is placed afresh.
 */
const FEED_CONSUMER_CREATE_TIMEOUT_MS = 2_000;
/** The server removes a consumer nobody pulled from for this long (a gateway that died). */
const FEED_CONSUMER_INACTIVE_MS = 30_000;
/**
 * How often the feed compares its progress with the stream. After a cluster node died, a
 * consumer was seen to keep answering heartbeats while delivering nothing: the stream held
 * newer events (every one of them a token event) and waiters waited for ever.
 */
const FEED_PROGRESS_CHECK_MS = 3_000;

/**
 * Event ids remembered to drop the second copy of an event (live copy and JetStream copy). The
 * JetStream copy follows its live copy within milliseconds, or seconds when the outbox relay
 * is behind: 50,000 ids cover that at thousands of events per second.
 */
const RECENT_EVENT_IDS = 50_000;

/**
 * Tokens whose create this gateway answered lately, remembered as the create answered them, so an
 * event stream opened right after the create (what `wait.forToken` does) starts from that view
 * instead of asking the token-service. Short-lived: a waiter subscribes within milliseconds.
 */
const CREATED_VIEWS = 10_000;
const CREATED_VIEW_TTL_MS = 10_000;
/** Tokens that had an event other than their creation, remembered long enough to cover a create answer still on its way. */
const CHANGED_TOKENS = 50_000;

/** The kind segment of a creation's subject (`….token.created.<environment>.<id>`). */
const CREATED_KIND = EVENT_KIND.TokenCreated;

export type TokenEventListener = (event: EventEnvelope) => void;

export interface TokenEventFeedOptions {
  servers: string[];
  subjectPrefix: string;
  /** Connection name shown by the NATS server (monitoring). */
  connectionName?: string;
}

export interface TokenEventFeedStats {
  live: boolean;
  /** Tokens with at least one listener. */
  watchedTokens: number;
  listeners: number;
  /** Messages received from JetStream since start. */
  received: number;
  /** Live copies received on core NATS since start (each one woke its waiters before JetStream's copy came). */
  receivedLive: number;
}

/**
 * The gateway's one window onto the token events on JetStream.
 *
 * A single consumer on `<prefix>.evt.token.>` feeds every listener of this process:
 * each message is handed to the listeners of its token (looked up by the subject's last
 * part, so messages nobody waits for are never parsed) and to the listeners of all tokens.
 * Thousands of waiters therefore cost one consumer on the server and one map lookup per event.
 *
 * Gap-free while it runs: the consumer starts right after the stream's last message at the
 * moment the feed goes live. It is an ephemeral, unacknowledged pull consumer (one pull
 * consumer delivers in stream order); when it is lost (its NATS node died, the server
 * restarted, the gateway was cut off long enough for the server to remove it) the feed creates
 * a new one from the sequence after the last event it delivered. A listener that subscribes while the feed is live therefore
 * receives every event stored after it subscribed; what was stored before is the caller's to
 * read (subscribe first, then read the current state, then drop what the state already holds).
 *
 * Two copies of every event arrive: the live copy, which the token-service publishes on core
 * NATS right after its commit (milliseconds; at most once), and the JetStream copy, which the
 * outbox relay publishes (durable, ordered, gap-free). Whichever comes first is handed to the
 * listeners; the other is dropped by event id. Waiters thus wake at once, and lose nothing when a
 * live copy is lost (a NATS reconnect, a gateway that subscribed late): the JetStream copy follows.
 *
 * Events are delivered at least once and, per token, usually in version order (a live copy
 * may overtake an older JetStream copy); listeners dedupe by stream version and read the token
 * again when they see a gap (see TokenFollower).
 */
export class TokenEventFeed {
  private readonly logger = new Logger(TokenEventFeed.name);
  private readonly byToken = new Map<string, Set<TokenEventListener>>();
  private readonly everyToken = new Set<TokenEventListener>();
  private readonly streamName: string;
  private readonly filterSubject: string;
  private readonly tokenSubjectBase: string;
  private readonly liveTokenSubjectBase: string;
  private connection?: NatsConnection;
  private messages?: ConsumerMessages;
  private running = false;
  private starting?: Promise<void>;
  private isLive = false;
  private liveWaiters: (() => void)[] = [];
  private receivedCount = 0;
  private receivedLiveCount = 0;
  private readonly recentEventIds = new Set<string>();
  private readonly createdViews = new LRUCache<string, { environment: string; view: TokenView }>({
    max: CREATED_VIEWS,
    ttl: CREATED_VIEW_TTL_MS,
  });
  private readonly changedTokens = new LRUCache<string, true>({ max: CHANGED_TOKENS });
  private liveSubscription?: Subscription;
  /** The stream sequence after the last event delivered: where a replacement consumer starts. */
  private nextSequence = 1;
  private consumerName?: string;
  private consumerGeneration = 0;
  private progressTimer?: NodeJS.Timeout;
  /** nextSequence at the last check that found the stream ahead of the feed. */
  private behindAt?: number;

  constructor(private readonly options: TokenEventFeedOptions) {
    this.streamName = eventStreamName(options.subjectPrefix);
    this.filterSubject = `${options.subjectPrefix}.evt.token.>`;
    this.tokenSubjectBase = `${options.subjectPrefix}.evt.token.`;
    this.liveTokenSubjectBase = `${options.subjectPrefix}.live.token.`;
  }

  /** Connects in the background; `whenLive` tells when listeners can rely on the feed. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.starting = this.run();
  }

  get live(): boolean {
    return this.isLive;
  }

  /** Resolves true once the feed is live, or false if it is not live within `timeoutMs`. */
  whenLive(timeoutMs: number): Promise<boolean> {
    if (this.isLive) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (value: boolean) => {
        clearTimeout(timer);
        this.liveWaiters = this.liveWaiters.filter((w) => w !== onLive);
        resolve(value);
      };
      const onLive = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.liveWaiters.push(onLive);
    });
  }

  /**
   * Remembers the view a create answered (a new token, not an idempotent replay of an earlier one),
   * while the feed is live. Not when the feed already carried an event of the token other than
   * its creation: then the view is already old.
   */
  rememberCreated(environment: string, view: TokenView): void {
    if (!this.isLive || view.version !== 1 || this.changedTokens.has(view.id)) return;
    this.createdViews.set(view.id, { environment, view });
  }

  /**
   * The state of a token this gateway created lately, if nothing has happened to it since: the
   * feed forgets a remembered view at the first event of the token other than its creation, so a
   * view returned here is current up to every event this feed has delivered. A caller that
   * subscribed to the token first misses nothing: every later event reaches its listener.
   */
  createdView(environment: string, tokenId: string): TokenView | undefined {
    const remembered = this.createdViews.get(tokenId);
    return remembered?.environment === environment ? remembered.view : undefined;
  }

  /** A command is about to change the token: its remembered view may soon be old. */
  forgetCreated(tokenId: string): void {
    this.createdViews.delete(tokenId);
  }

  /** Listens to one token's events (bare id, without `waitpoint_`). Returns the unsubscribe. */
  subscribe(tokenId: string, listener: TokenEventListener): () => void {
    let listeners = this.byToken.get(tokenId);
    if (!listeners) {
      listeners = new Set();
      this.byToken.set(tokenId, listeners);
    }
    listeners.add(listener);
    return () => {
      const current = this.byToken.get(tokenId);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.byToken.delete(tokenId);
    };
  }

  /** Listens to every token event of the deployment (e.g. a live dashboard). */
  subscribeAll(listener: TokenEventListener): () => void {
    this.everyToken.add(listener);
    return () => this.everyToken.delete(listener);
  }

  get stats(): TokenEventFeedStats {
    let listeners = this.everyToken.size;
    for (const set of this.byToken.values()) listeners += set.size;
    return {
      live: this.isLive,
      watchedTokens: this.byToken.size,
      listeners,
      received: this.receivedCount,
      receivedLive: this.receivedLiveCount,
    };
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.progressTimer);
    await this.starting?.catch(() => undefined);
    this.liveSubscription?.unsubscribe();
    this.liveSubscription = undefined;
    await this.messages?.close().catch(() => undefined);
    this.messages = undefined;
    this.isLive = false;
    this.createdViews.clear();
    await this.deleteConsumer();
    await this.connection?.drain().catch(() => undefined);
    this.connection = undefined;
  }

  private async run(): Promise<void> {
    // Our own retry loop rather than waitOnFirstConnect, so stop() is never stuck behind it.
    let reported = false;
    while (this.running && !this.connection) {
      try {
        const connection = await connect({
          servers: this.options.servers,
          name: this.options.connectionName ?? 'waitpoints-gateway-events',
          maxReconnectAttempts: -1,
        });
        if (!this.running) {
          await connection.close().catch(() => undefined);
          return;
        }
        this.connection = connection;
        // Subscribed once: nats.js subscribes again by itself after a reconnect.
        this.liveSubscription = connection.subscribe(liveEventSubjects(this.options.subjectPrefix).all, {
          callback: (error, message) => {
            if (!error) this.dispatchLive(message);
          },
        });
      } catch (error) {
        if (!reported) this.logger.warn(`cannot reach NATS for token events, retrying: ${(error as Error).message}`);
        reported = true;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    let warned = false;
    while (this.running) {
      try {
        await this.consumeFromNow();
        return;
      } catch (error) {
        if (!this.running) return;
        if (!warned) {
          this.logger.warn(`waiting for JetStream stream ${this.streamName} (the token-service creates it): ${(error as Error).message}`);
          warned = true;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async consumeFromNow(): Promise<void> {
    const jsm = await this.connection!.jetstreamManager();
    const { state } = await jsm.streams.info(this.streamName);
    // An explicit start sequence rather than DeliverPolicy.New: a consumer replaced before its
    // first message resumes from here instead of from "now again".
    this.nextSequence = state.last_seq + 1;
    await this.consumeFrom(this.nextSequence);
    if (!this.running) return;
    this.isLive = true;
    this.progressTimer = setInterval(() => void this.checkProgress(), FEED_PROGRESS_CHECK_MS);
    this.progressTimer.unref();
    for (const waiter of this.liveWaiters.splice(0)) waiter();
    this.logger.log(`following token events on ${this.streamName} from sequence ${state.last_seq + 1}`);
  }

  private async consumeFrom(sequence: number): Promise<void> {
    const connection = this.connection!;
    const name = `gateway_feed_${randomBytes(6).toString('hex')}`;
    // Our own consumer rather than nats.js' ordered one: that one retries a creation that
    // never answers for minutes inside consume(), and is not re-created when its node dies.
    const jsm = await connection.jetstreamManager({ timeout: FEED_CONSUMER_CREATE_TIMEOUT_MS });
    await jsm.consumers.add(this.streamName, {
      name,
      filter_subject: this.filterSubject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: sequence,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(FEED_CONSUMER_INACTIVE_MS),
    });
    // Only the newest consumer delivers: a replaced one may still hand over a late message.
    const generation = ++this.consumerGeneration;
    try {
      const consumer = await connection.jetstream({ timeout: FEED_CONSUMER_CREATE_TIMEOUT_MS }).consumers.get(this.streamName, name);
      const messages = await consumer.consume({
        max_messages: 256,
        expires: FEED_PULL_EXPIRES_MS,
        callback: (message) => {
          if (generation === this.consumerGeneration) this.dispatch(message);
        },
      });
      if (!this.running) {
        await messages.close().catch(() => undefined);
        throw new Error('the feed is stopping');
      }
      this.messages = messages;
      this.consumerName = name;
      void this.superviseConsumer(messages);
    } catch (error) {
      void jsm.consumers.delete(this.streamName, name).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Replaces the consumer when it is lost: heartbeats stop when its NATS node died (nats.js
   * then keeps asking that node forever), and the server reports it missing after a restart or
   * after removing it for inactivity. The new one starts at the sequence after the last event
   * delivered, so nothing is skipped; listeners drop what they already had.
   */
  private async superviseConsumer(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const status of await messages.status()) {
        const lost =
          (status.type === ConsumerEvents.HeartbeatsMissed && Number(status.data) >= FEED_MISSED_HEARTBEATS_LIMIT) ||
          status.type === ConsumerEvents.ConsumerNotFound ||
          status.type === ConsumerEvents.ConsumerDeleted ||
          status.type === ConsumerEvents.StreamNotFound;
        if (lost) {
          void this.replaceConsumer(messages, `${status.type} (${String(status.data)})`);
          return;
        }
      }
    } catch {
      // the consumer was closed
    }
  }

  /**
   * Replaces a consumer that delivered nothing between two checks while the stream held events
   * after the last one delivered. The stream carries token events only, so those are ours.
   */
  private async checkProgress(): Promise<void> {
    const messages = this.messages;
    if (!messages || !this.connection || this.connection.isClosed()) return;
    let lastSequence: number;
    try {
      const jsm = await this.connection.jetstreamManager({ timeout: FEED_CONSUMER_CREATE_TIMEOUT_MS });
      lastSequence = (await jsm.streams.info(this.streamName)).state.last_seq;
    } catch {
      return; // the stream is electing a leader, or NATS is away: the next check will tell
    }
    if (lastSequence < this.nextSequence) {
      this.behindAt = undefined;
    } else if (this.behindAt === this.nextSequence) {
      void this.replaceConsumer(
        messages,
        `no event delivered for ${FEED_PROGRESS_CHECK_MS / 1000} s while the stream is at ${lastSequence}`,
      );
    } else {
      this.behindAt = this.nextSequence;
    }
  }

  private async replaceConsumer(stale: ConsumerMessages, why: string): Promise<void> {
    if (!this.running || stale !== this.messages) return;
    this.messages = undefined;
    this.behindAt = undefined;
    this.consumerGeneration++;
    this.logger.warn(`token event feed: consumer lost (${why}); replacing it from sequence ${this.nextSequence}`);
    // Not awaited: both ask the server, which may be the node that is gone.
    void stale.close().catch(() => undefined);
    void this.deleteConsumer();
    for (let attempt = 1; this.running; attempt++) {
      try {
        await this.consumeFrom(this.nextSequence);
        this.logger.log(`token event feed: following again from sequence ${this.nextSequence} (attempt ${attempt})`);
        return;
      } catch (error) {
        if (!this.running) return;
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn(`token event feed: cannot create a consumer yet (${(error as Error).message}); retrying`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /** Bounded by the manager's timeout; the server removes an inactive consumer anyway. */
  private async deleteConsumer(): Promise<void> {
    const name = this.consumerName;
    this.consumerName = undefined;
    if (!name || !this.connection || this.connection.isClosed()) return;
    await this.connection
      .jetstreamManager({ timeout: FEED_CONSUMER_CREATE_TIMEOUT_MS })
      .then((jsm) => jsm.consumers.delete(this.streamName, name))
      .catch(() => undefined);
  }

  private dispatch(message: JsMsg): void {
    this.receivedCount++;
    if (message.seq >= this.nextSequence) this.nextSequence = message.seq + 1;
    this.deliver(message.subject, message, () => message.json<EventEnvelope>(), `#${message.seq}`, true);
  }

  private dispatchLive(message: Msg): void {
    this.receivedLiveCount++;
    this.deliver(message.subject, message, () => message.json<EventEnvelope>(), '(live)', false);
  }

  /**
   * Hands one copy of an event to its listeners, unless the other copy already was. A message
   * of a token nobody listens to is dropped before its headers or body are read.
   */
  private deliver(
    subject: string,
    message: { headers?: { get(key: string): string } },
    parse: () => EventEnvelope,
    where: string,
    traced: boolean,
  ): void {
    const tokenId = subject.slice(subject.lastIndexOf('.') + 1);
    if (!this.isCreation(subject)) {
      // Whatever happened to the token, a view remembered from its create is no longer current.
      this.changedTokens.set(tokenId, true);
      this.createdViews.delete(tokenId);
    }
    const listeners = this.byToken.get(tokenId);
    if (!listeners && this.everyToken.size === 0) return;
    const eventId = message.headers?.get(NATS_MSG_ID_HEADER);
    if (eventId && this.alreadyDelivered(eventId)) return;
    let envelope: EventEnvelope;
    try {
      envelope = parse();
    } catch {
      this.logger.error(`ignoring unreadable token event ${subject} ${where}`);
      return;
    }
    // Only an event someone waits for is traced: the wake-up joins the trace of the command that stored it.
    consumeSpan(`wake ${envelope.type}`, envelope, traced ? message.headers : undefined, () => {
      for (const listener of [...(listeners ?? []), ...this.everyToken]) {
        try {
          listener(envelope);
        } catch (error) {
          this.logger.error(`token event listener failed: ${(error as Error).message}`);
        }
      }
    });
  }

  /** Whether a subject (`<prefix>.evt.token.<kind>.…` or `<prefix>.live.token.<kind>.…`) carries a creation. */
  private isCreation(subject: string): boolean {
    const kindAt = (subject.startsWith(this.liveTokenSubjectBase) ? this.liveTokenSubjectBase : this.tokenSubjectBase).length;
    return subject.startsWith(CREATED_KIND, kindAt) && subject.charAt(kindAt + CREATED_KIND.length) === '.';
  }

  /** True for the second copy of an event; remembers the first (the oldest ids are forgotten). */
  private alreadyDelivered(eventId: string): boolean {
    if (this.recentEventIds.delete(eventId)) return true; // each event has two copies: forget it after the second
    this.recentEventIds.add(eventId);
    if (this.recentEventIds.size > RECENT_EVENT_IDS) this.recentEventIds.delete(this.recentEventIds.values().next().value!);
    return false;
  }
}
