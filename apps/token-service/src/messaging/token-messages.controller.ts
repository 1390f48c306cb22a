import { Controller, Logger } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  CancelTokenCommand,
  CompleteTokenCommand,
  CreateTokenCommand,
  ErrorCode,
  ExtendTokenCommand,
  HeartbeatTokenCommand,
  RejectTokenCommand,
  GetTokenQuery,
  ListTokensQuery,
  OutputChunkQuery,
  RpcReply,
  TimeoutTokenCommand,
  TimeoutTokensCommand,
  TimeoutTokensResult,
  TokenCommandSubjects,
  TokenHistoryQuery,
  TokenQuerySubjects,
  TokenStatsQuery,
  TokenRequestBatch,
  TokenRequestBatchReply,
  TokenRequestBatchSubject,
  WaitpointError,
  rpcError,
  rpcOk,
} from '@waitpoints/contracts';
import { isDatabaseUnavailable } from '@waitpoints/platform';
import { TokenCommandHandler } from '../commands/token-command-handler';
import { JetStreamPublisher } from '../outbox/jetstream-publisher';
import { TokenInsights } from '../projections/token-insights';
import { TokenReadService } from '../projections/token-read.service';

/** NATS adapter: message in → command/query → reply envelope out. No decisions here. */
@Controller()
export class TokenMessagesController {
  private readonly logger = new Logger(TokenMessagesController.name);
  private lastOutageWarningAt = 0;

  constructor(
    private readonly commands: TokenCommandHandler,
    private readonly reads: TokenReadService,
    private readonly insights: TokenInsights,
    private readonly publisher: JetStreamPublisher,
  ) {}

  @MessagePattern(TokenCommandSubjects.create)
  create(@Payload() command: CreateTokenCommand) {
    return this.reply(() => this.commands.create(command));
  }

  @MessagePattern(TokenCommandSubjects.complete)
  complete(@Payload() command: CompleteTokenCommand) {
    return this.reply(() => this.completeWithOutput(command));
  }

  /** A large output was parked in the object store by the gateway: fetch it, decide, then drop the upload. */
  private async completeWithOutput({ outputRef, ...command }: CompleteTokenCommand) {
    if (outputRef === undefined) return this.commands.complete(command);
    try {
      return await this.commands.complete({ ...command, output: await this.publisher.outputs.takeUpload(outputRef) });
    } finally {
      await this.publisher.outputs.discardUpload(outputRef);
    }
  }

  @MessagePattern(TokenCommandSubjects.cancel)
  cancel(@Payload() command: CancelTokenCommand) {
    return this.reply(() => this.commands.cancel(command));
  }

  @MessagePattern(TokenCommandSubjects.reject)
  reject(@Payload() command: RejectTokenCommand) {
    return this.reply(() => this.commands.reject(command));
  }

  @MessagePattern(TokenCommandSubjects.extend)
  extend(@Payload() command: ExtendTokenCommand) {
    return this.reply(() => this.commands.extend(command));
  }

  @MessagePattern(TokenCommandSubjects.heartbeat)
  heartbeat(@Payload() command: HeartbeatTokenCommand) {
    return this.reply(() => this.commands.heartbeat(command));
  }

  @MessagePattern(TokenCommandSubjects.timeout)
  timeout(@Payload() command: TimeoutTokenCommand) {
    return this.reply(() => this.commands.timeout(command));
  }

  @MessagePattern(TokenCommandSubjects.timeoutBatch)
  timeoutBatch(@Payload() command: TimeoutTokensCommand) {
    return this.reply<TimeoutTokensResult>(async () => ({ results: await this.commands.timeoutMany(command) }));
  }

  @MessagePattern(TokenQuerySubjects.get)
  get(@Payload() query: GetTokenQuery) {
    return this.reply(() => this.reads.get(query));
  }

  @MessagePattern(TokenQuerySubjects.outputChunk)
  outputChunk(@Payload() query: OutputChunkQuery) {
    return this.reply(() => this.reads.outputChunk(query));
  }

  @MessagePattern(TokenQuerySubjects.list)
  list(@Payload() query: ListTokensQuery) {
    return this.reply(() => this.reads.list(query));
  }

  @MessagePattern(TokenQuerySubjects.history)
  history(@Payload() query: TokenHistoryQuery) {
    return this.reply(() => this.insights.history(query));
  }

  @MessagePattern(TokenQuerySubjects.stats)
  stats(@Payload() query: TokenStatsQuery) {
    return this.reply(() => this.insights.stats(query));
  }

  /**
   * Each command answered as its own subject would answer it; together they share write
   * batches. Queries are refused: their replies could outgrow one NATS message.
   */
  @MessagePattern(TokenRequestBatchSubject)
  async batch(@Payload() batch: TokenRequestBatch): Promise<TokenRequestBatchReply> {
    const requests = Array.isArray(batch?.requests) ? batch.requests : [];
    return { replies: await Promise.all(requests.map((request) => this.handle(request?.subject, request?.payload))) };
  }

  private handle(subject: unknown, payload: any): Promise<RpcReply<unknown>> {
    switch (subject) {
      case TokenCommandSubjects.create:
        return this.create(payload);
      case TokenCommandSubjects.complete:
        return this.complete(payload);
      case TokenCommandSubjects.cancel:
        return this.cancel(payload);
      case TokenCommandSubjects.reject:
        return this.reject(payload);
      case TokenCommandSubjects.extend:
        return this.extend(payload);
      case TokenCommandSubjects.heartbeat:
        return this.heartbeat(payload);
      case TokenCommandSubjects.timeout:
        return this.timeout(payload);
      default:
        return Promise.resolve(
          rpcError({ code: ErrorCode.ValidationFailed, message: `${String(subject).slice(0, 100)} cannot be sent in a batch` }),
        );
    }
  }

  private async reply<T>(work: () => Promise<T>): Promise<RpcReply<T>> {
    try {
      return rpcOk(await work());
    } catch (error) {
      if (error instanceof WaitpointError) return rpcError(error.toBody());
      if (isDatabaseUnavailable(error)) {
        // Every request fails the same way during an outage: one warning a second is enough.
        if (Date.now() - this.lastOutageWarningAt > 1000) {
          this.lastOutageWarningAt = Date.now();
          this.logger.warn(`PostgreSQL is unavailable: ${(error as Error).message}`);
        }
        return rpcError({
          code: ErrorCode.ServiceUnavailable,
          message: 'The token store (PostgreSQL) is unavailable; try again shortly',
        });
      }
      this.logger.error((error as Error).stack ?? String(error));
      return rpcError({ code: ErrorCode.Internal, message: 'The token service failed to handle the request' });
    }
  }
}
