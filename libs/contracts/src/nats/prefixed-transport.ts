import { ClientNats, MessageHandler, NatsOptions, ReadPacket, ServerNats, WritePacket } from '@nestjs/microservices';
import type { Msg, NatsConnection } from 'nats';

/**
 * Nest's NATS transport with a deployment prefix on every subject. Handlers and senders use
 * the relative subjects of `TokenCommandSubjects`/`TokenQuerySubjects`; the prefix
 * (`NATS_SUBJECT_PREFIX`) is applied here, once, on both sides of the wire.
 */
type NatsTransportOptions = NonNullable<NatsOptions['options']>;

export class PrefixedNatsServer extends ServerNats {
  private beforeReply?: (connection: NatsConnection) => void;
  private wrapHandler?: (handler: MessageHandler) => MessageHandler;

  constructor(
    private readonly prefix: string,
    options: NatsTransportOptions,
  ) {
    super(options);
  }

  /**
   * Runs `hook` right before each reply is published, with the connection the reply leaves on:
   * whatever the hook publishes there goes out in the same socket write as the reply.
   */
  publishBeforeEachReply(hook: (connection: NatsConnection) => void): void {
    this.beforeReply = hook;
  }

  override getPublisher(...args: Parameters<ServerNats['getPublisher']>): (response: unknown) => unknown {
    const publish = super.getPublisher(...args);
    const hook = this.beforeReply;
    if (!hook || !args[0].reply) return publish;
    return (response) => {
      hook(this.unwrap<NatsConnection>());
      return publish(response);
    };
  }

  /**
   * Every handler added from now on runs within `wrapper` (correlation, tracing and metrics: see
   * observeNatsHandlers in libs/platform). Call it before the microservice starts listening.
   */
  wrapHandlersWith(wrapper: (handler: MessageHandler) => MessageHandler): void {
    this.wrapHandler = wrapper;
  }

  override addHandler(pattern: unknown, callback: MessageHandler, isEventHandler?: boolean, extras?: Record<string, unknown>): void {
    super.addHandler(`${this.prefix}.${String(pattern)}`, this.wrapHandler ? this.wrapHandler(callback) : callback, isEventHandler, extras);
  }

  /**
   * Nest looks every incoming message's route up by first trying `JSON.parse` on its subject,
   * which throws (and builds a stack trace) for every plain subject such as ours: a measurable
   * share of the handler's CPU per command. Only a subject that can be JSON goes through it.
   */
  override getRouteFromPattern(pattern: string): string {
    return pattern.startsWith('{') || pattern.startsWith('[') ? super.getRouteFromPattern(pattern) : this.normalizePattern(pattern);
  }
}

/** The connection to NATS is lost; the client is reconnecting in the background. */
export class NatsUnreachableError extends Error {
  constructor(detail: string) {
    super(`NATS is unreachable (${detail})`);
    this.name = 'NatsUnreachableError';
  }
}

export class PrefixedNatsClient extends ClientNats {
  constructor(
    private readonly prefix: string,
    options: NatsTransportOptions,
    /** Upper bound for one request; callers normally give up earlier with their own timeout. */
    private readonly requestTimeoutMs = 30_000,
  ) {
    super(options);
  }

  /**
   * While NATS is unreachable Nest rejects every request at once with a bare string; an Error
   * of our own keeps the reason readable in logs and lets callers recognise it.
   */
  override async connect(): Promise<NatsConnection> {
    try {
      return await super.connect();
    } catch (error) {
      if (error instanceof Error) throw error;
      throw new NatsUnreachableError(String(error).replace(/^Error: /, ''));
    }
  }

  protected override normalizePattern(pattern: unknown): string {
    return `${this.prefix}.${super.normalizePattern(pattern as string)}`;
  }

  /**
   * Nest subscribes and unsubscribes a fresh inbox for every request; nats.js' own request()
   * shares one inbox subscription for all of them, which halves the protocol traffic per
   * request. Replies are parsed by Nest's handler, so the packet format is unchanged.
   */
  protected override publish(partialPacket: ReadPacket, callback: (packet: WritePacket) => unknown): () => void {
    let cancelled = false;
    try {
      const packet = this.assignPacketId(partialPacket);
      const serialized = this.serializer.serialize(packet) as { data: Uint8Array; headers?: unknown };
      const handle = this.createSubscriptionHandler(packet, callback);
      (this.natsClient as unknown as NatsConnection)
        .request(this.normalizePattern(partialPacket.pattern), serialized.data, {
          timeout: this.requestTimeoutMs,
          headers: this.mergeHeaders(serialized.headers as never) as never,
        })
        .then(
          (reply: Msg) => !cancelled && handle(undefined as never, reply as never),
          (error: Error) => !cancelled && callback({ err: error }),
        );
    } catch (error) {
      callback({ err: error });
    }
    return () => {
      cancelled = true;
    };
  }
}
