import type { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import {
  RpcReply,
  TimeoutTokensCommand,
  TimeoutTokensResult,
  TokenCommandSubjects,
  TokenTransitionResult,
} from '@waitpoints/contracts';

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
  ) {}

  async send(timeouts: TimeoutRequest[]): Promise<RpcReply<TokenTransitionResult>[]> {
    const command: TimeoutTokensCommand = {
      timeouts,
      metadata: {
        correlationId: `scheduler:${this.instanceId}:${++this.sequence}`,
        actor: { type: 'scheduler', id: this.instanceId },
      },
    };
    const reply = await firstValueFrom(
      this.transport
        .send<RpcReply<TimeoutTokensResult>>(TokenCommandSubjects.timeoutBatch, command)
        .pipe(timeout(this.timeoutMs)),
    );
    if (!reply.ok) throw new Error(`token-service refused the timeouts: ${reply.error.code}: ${reply.error.message}`);
    if (reply.value.results.length !== timeouts.length) {
      throw new Error(`token-service answered ${reply.value.results.length} of ${timeouts.length} timeouts`);
    }
    return reply.value.results;
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
