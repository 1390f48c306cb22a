import { ClientNats, NatsOptions, ServerNats } from '@nestjs/microservices';

/**
 * Nest's NATS transport with a deployment prefix on every subject. Handlers and senders use
 * the relative subjects of `TokenCommandSubjects`/`TokenQuerySubjects`; the prefix
 * (`NATS_SUBJECT_PREFIX`) is applied here, once, on both sides of the wire.
 */
type NatsTransportOptions = NonNullable<NatsOptions['options']>;

export class PrefixedNatsServer extends ServerNats {
  constructor(
    private readonly prefix: string,
    options: NatsTransportOptions,
  ) {
    super(options);
  }

  override addHandler(
    pattern: unknown,
    callback: Parameters<ServerNats['addHandler']>[1],
    isEventHandler?: boolean,
    extras?: Record<string, unknown>,
  ): void {
    super.addHandler(`${this.prefix}.${String(pattern)}`, callback, isEventHandler, extras);
  }
}

export class PrefixedNatsClient extends ClientNats {
  constructor(
    private readonly prefix: string,
    options: NatsTransportOptions,
  ) {
    super(options);
  }

  protected override normalizePattern(pattern: unknown): string {
    return `${this.prefix}.${super.normalizePattern(pattern as string)}`;
  }
}
