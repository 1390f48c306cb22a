import { Controller, Logger } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  ApprovalTokenQuery,
  BATCH_REPLY_BUDGET_BYTES,
  BATCHABLE_QUERY_SUBJECTS,
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
  SEND_ALONE,
  TimeoutTokenCommand,
  TimeoutTokensCommand,
  TimeoutTokensResult,
  TokenCommandSubjects,
  TokenHistoryQuery,
  TokenQuerySubjects,
  TokenStatsQuery,
  StoredEventsQuery,
  TokenRequestBatch,
  TokenRequestBatchReply,
  TokenRequestBatchSubject,
  WaitpointError,
  rpcError,
  rpcOk,
} from '@waitpoints/contracts';
import { contextFromTraceparent, inSpan, isDatabaseUnavailable, linkToActiveSpan, SpanKind, traceparentOf } from '@waitpoints/platform';
import { isStatementTimeout } from '../database/database';
import { TokenCommandHandler } from '../commands/token-command-handler';
import { JetStreamPublisher } from '../outbox/jetstream-publisher';
import { TokenInsights } from '../projections/token-insights';
import { TokenReadService } from '../projections/token-read.service';
import { StoredEventsReader } from '../outbox/stored-events';

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
    private readonly storedEvents: StoredEventsReader,
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

  @MessagePattern(TokenQuerySubjects.approval)
  approvalToken(@Payload() query: ApprovalTokenQuery) {
    return this.reply(() => this.reads.approvalToken(query));
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

  /** What a JetStream consumer that was away too long missed (see nats/event-store-catch-up.ts). */
  @MessagePattern(TokenQuerySubjects.storedEvents)
  storedEventsAfter(@Payload() query: StoredEventsQuery) {
    return this.reply(() => this.storedEvents.page(query));
  }

  @MessagePattern(TokenQuerySubjects.stats)
  stats(@Payload() query: TokenStatsQuery) {
    return this.reply(() => this.insights.stats(query));
  }

  /**
   * Each command and query answered as its own subject would answer it; the commands share
   * write batches. The reply stays within BATCH_REPLY_BUDGET_BYTES: a query whose answer would
   * take it past is answered SEND_ALONE instead (the sender asks again on the query's subject).
   */
  @MessagePattern(TokenRequestBatchSubject)
  async batch(@Payload() batch: TokenRequestBatch): Promise<TokenRequestBatchReply> {
    const requests = Array.isArray(batch?.requests) ? batch.requests : [];
    const replies = await Promise.all(requests.map((request) => this.handleTraced(request?.subject, request?.payload)));
    return { replies: withinReplyBudget(requests, replies) };
  }

  /**
   * A batched command continues its sender's trace (its `metadata.traceparent`); the batch
   * message's own span (the interceptor's) is where it ran. Its events then point to this span.
   */
  private handleTraced(subject: unknown, payload: unknown): Promise<RpcReply<unknown>> {
    const metadata = (payload as { metadata?: { traceparent?: string } } | undefined)?.metadata;
    const sender = contextFromTraceparent(metadata?.traceparent);
    if (!sender) return this.handle(subject, payload);
    return inSpan(
      `handle ${String(subject).slice(0, 100)}`,
      { kind: SpanKind.SERVER, parent: sender, links: [linkToActiveSpan({ 'waitpoints.batch': true })] },
      () => {
        metadata!.traceparent = traceparentOf();
        return this.handle(subject, payload);
      },
    );
  }

  private handle(subject: unknown, payload: unknown): Promise<RpcReply<unknown>> {
    switch (subject) {
      case TokenCommandSubjects.create:
        return this.create(payload as CreateTokenCommand);
      case TokenCommandSubjects.complete:
        return this.complete(payload as CompleteTokenCommand);
      case TokenCommandSubjects.cancel:
        return this.cancel(payload as CancelTokenCommand);
      case TokenCommandSubjects.reject:
        return this.reject(payload as RejectTokenCommand);
      case TokenCommandSubjects.extend:
        return this.extend(payload as ExtendTokenCommand);
      case TokenCommandSubjects.heartbeat:
        return this.heartbeat(payload as HeartbeatTokenCommand);
      case TokenCommandSubjects.timeout:
        return this.timeout(payload as TimeoutTokenCommand);
      case TokenQuerySubjects.get:
        return this.get(payload as GetTokenQuery);
      case TokenQuerySubjects.list:
        return this.list(payload as ListTokensQuery);
      case TokenQuerySubjects.approval:
        return this.approvalToken(payload as ApprovalTokenQuery);
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
      if (isStatementTimeout(error)) {
        return rpcError({
          code: ErrorCode.ServiceUnavailable,
          message: 'The query took too long and was stopped; narrow the filters (status, tag, period) and try again',
        });
      }
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

/**
 * The replies of a batch in order, each query's replaced by SEND_ALONE once the reply would
 * outgrow BATCH_REPLY_BUDGET_BYTES. A command's reply is always kept: it has been applied, and
 * the sender bounded it with the command's own size.
 */
function withinReplyBudget(requests: { subject: string }[], replies: RpcReply<unknown>[]): TokenRequestBatchReply['replies'] {
  // Commands alone (the usual write batch) are within it by the sender's count: nothing to measure.
  if (!requests.some((request) => BATCHABLE_QUERY_SUBJECTS.includes(request?.subject))) return replies;
  let bytes = 0;
  return replies.map((reply, i) => {
    const size = Buffer.byteLength(JSON.stringify(reply));
    if (bytes + size > BATCH_REPLY_BUDGET_BYTES && BATCHABLE_QUERY_SUBJECTS.includes(requests[i]?.subject)) return SEND_ALONE;
    bytes += size;
    return reply;
  });
}
