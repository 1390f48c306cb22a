import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout, TimeoutError } from 'rxjs';
import {
  CancelTokenCommand,
  CompleteTokenCommand,
  CreateTokenCommand,
  CreateTokenResult,
  GetTokenQuery,
  ListTokensQuery,
  ListTokensResult,
  RpcReply,
  TokenCommandSubjects,
  TokenQuerySubjects,
  TokenTransitionResult,
  TokenView,
} from '@waitpoints/contracts';
import { ApiError } from '../http/api-error';

export const TOKEN_SERVICE_TRANSPORT = Symbol('TokenServiceTransport');
export const NATS_REQUEST_TIMEOUT_MS = Symbol('NatsRequestTimeoutMs');

/**
 * Request/reply to the token-service over NATS. Always bounded by a timeout (Nest's NATS
 * client has no "no responders" fast path), so an absent service is a prompt 503.
 */
@Injectable()
export class TokenServiceClient implements OnApplicationShutdown {
  constructor(
    @Inject(TOKEN_SERVICE_TRANSPORT) private readonly transport: ClientProxy,
    @Inject(NATS_REQUEST_TIMEOUT_MS) private readonly timeoutMs: number,
  ) {}

  createToken = (command: CreateTokenCommand) => this.request<CreateTokenResult>(TokenCommandSubjects.create, command);
  completeToken = (command: CompleteTokenCommand) => this.request<TokenTransitionResult>(TokenCommandSubjects.complete, command);
  cancelToken = (command: CancelTokenCommand) => this.request<TokenTransitionResult>(TokenCommandSubjects.cancel, command);
  getToken = (query: GetTokenQuery) => this.request<TokenView>(TokenQuerySubjects.get, query);
  listTokens = (query: ListTokensQuery) => this.request<ListTokensResult>(TokenQuerySubjects.list, query);

  private async request<T>(subject: string, payload: object): Promise<T> {
    let reply: RpcReply<T>;
    try {
      reply = await firstValueFrom(this.transport.send<RpcReply<T>>(subject, payload).pipe(timeout(this.timeoutMs)));
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw ApiError.unavailable(`The token service did not answer within ${this.timeoutMs} ms; try again shortly`);
      }
      const detail = error instanceof Error ? error.message : (error as { message?: string })?.message ?? String(error);
      throw ApiError.unavailable(`The token service cannot be reached over NATS (${detail}); try again shortly`);
    }
    if (!reply.ok) throw ApiError.from(reply.error);
    return reply.value;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transport.close();
  }
}
