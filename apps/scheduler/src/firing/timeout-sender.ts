import { ClientProxy, NatsRecordBuilder } from '@nestjs/microservices';
import { headers as natsHeaders } from 'nats';
import { firstValueFrom, timeout } from 'rxjs';
import {
  CORRELATION_ID_HEADER,
  RpcReply,
  TimeoutTokensCommand,
  TimeoutTokensResult,
  TokenCommandSubjects,
  TokenTransitionResult,
} from '@waitpoints/contracts';
import { inSpan, linkTo, SpanKind, TRACEPARENT_HEADER, traceparentOf } from '@waitpoints/platform';
import { creationTraces } from './creation-traces';

export interface TimeoutRequest {
  tokenId: string;
  environment: string;
}

/** Delivers timeouts to the token-service; one reply per request, in order. Rejects when nothing was decided. */
export interface TimeoutSender {
  send(timeouts: TimeoutRequest[]): Promise<RpcReply<TokenTransitionResult>[]>;
}

/** `cmd.token.timeout-batch` over NATS request/reply (the Nest transport adds the subject prefix). */
export class NatsTimeoutSender implements TimeoutSender {
  private sequence = 0;

  constructor(
    private readonly transport: Pick<ClientProxy, 'send' | 'close'>,
    private readonly timeoutMs: number,
    private readonly instanceId: string,
    /** Told how each request ended (ok, an error code, timeout, unavailable) and how long it took. */
    private readonly observe: (outcome: string, seconds: number) => void = () => undefined,
  ) {}

  /**
   * With tracing on, a firing starts a new trace (nothing caused it but the clock), linked to
   * the creation of each token it times out; the token-service's handling joins it.
   */
  send(timeouts: TimeoutRequest[]): Promise<RpcReply<TokenTransitionResult>[]> {
    return inSpan(
      'fire timeouts',
      {
        kind: SpanKind.CLIENT,
        parent: 'root',
        links: timeouts.map(({ tokenId }) =>
          linkTo(creationTraces.of(tokenId), { 'waitpoints.link': 'token_created', 'waitpoints.token_id': tokenId }),
        ),
        attributes: {
          'messaging.system': 'nats',
          'messaging.destination.name': TokenCommandSubjects.timeoutBatch,
          'waitpoints.timeouts': timeouts.length,
        },
      },
      () => this.sendNow(timeouts),
    );
  }

  private async sendNow(timeouts: TimeoutRequest[]): Promise<RpcReply<TokenTransitionResult>[]> {
    const traceparent = traceparentOf();
    const command: TimeoutTokensCommand = {
      timeouts,
      metadata: {
        correlationId: `scheduler:${this.instanceId}:${++this.sequence}`,
        actor: { type: 'scheduler', id: this.instanceId },
        ...(traceparent ? { traceparent } : {}),
      },
    };
    const headers = natsHeaders();
    headers.set(CORRELATION_ID_HEADER, command.metadata.correlationId);
    if (traceparent) headers.set(TRACEPARENT_HEADER, traceparent);
    const startedAt = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - startedAt) / 1e9;
    let reply: RpcReply<TimeoutTokensResult>;
    try {
      reply = await firstValueFrom(
        this.transport
          .send<RpcReply<TimeoutTokensResult>>(
            TokenCommandSubjects.timeoutBatch,
            new NatsRecordBuilder(command).setHeaders(headers).build(),
          )
          .pipe(timeout(this.timeoutMs)),
      );
    } catch (error) {
      this.observe((error as Error)?.name === 'TimeoutError' ? 'timeout' : 'unavailable', seconds());
      throw error;
    }
    this.observe(reply.ok ? 'ok' : reply.error.code, seconds());
    if (!reply.ok) throw new Error(`token-service refused the timeouts: ${reply.error.code}: ${reply.error.message}`);
    if (reply.value.results.length !== timeouts.length) {
      throw new Error(`token-service answered ${reply.value.results.length} of ${timeouts.length} timeouts`);
    }
    return reply.value.results;
  }

  /** The NATS connection timeouts are sent on (connects if needed; readiness checks ping it). */
  connection(): Promise<import('nats').NatsConnection> {
    return (this.transport as ClientProxy).connect();
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
