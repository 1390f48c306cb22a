import { Inject, Injectable, OnApplicationShutdown, Optional } from '@nestjs/common';
import { ClientProxy, NatsRecordBuilder } from '@nestjs/microservices';
import { firstValueFrom, timeout, TimeoutError } from 'rxjs';
import {
  ApprovalTokenQuery,
  CORRELATION_ID_HEADER,
  CancelTokenCommand,
  CompleteTokenCommand,
  ExtendTokenCommand,
  HeartbeatTokenCommand,
  HeartbeatTokenResult,
  RejectTokenCommand,
  CreateTokenCommand,
  CreateTokenResult,
  GetTokenQuery,
  ListTokensQuery,
  ListTokensResult,
  OutputChunkResult,
  RpcReply,
  TimeoutTokenCommand,
  TokenCommandSubjects,
  TokenRequestBatchSubject,
  TokenHistoryQuery,
  TokenHistoryResult,
  TokenQuerySubjects,
  TokenStatsQuery,
  TokenStatsResult,
  TokenTransitionResult,
  TokenView,
} from '@waitpoints/contracts';
import { LargeOutputStore, OUTPUT_CHUNK_CHARS, needsOffload } from '@waitpoints/contracts/nats/output-store';
import { headers as natsHeaders, NatsConnection } from 'nats';
import { NatsUnreachableError } from '@waitpoints/contracts/nats/prefixed-transport';
import { currentCorrelationId, inSpan, secondsSince, SpanKind, TRACEPARENT_HEADER, traceparentOf } from '@waitpoints/platform';
import { ApiError } from '../http/api-error';
import { GatewayMetrics } from '../ops/gateway-metrics';
import { TokenEventFeed } from '../realtime/token-event-feed';
import { DEFAULT_COALESCER_OPTIONS, RequestCoalescer } from './request-coalescer';

export const TOKEN_SERVICE_TRANSPORT = Symbol('TokenServiceTransport');
export const NATS_REQUEST_TIMEOUT_MS = Symbol('NatsRequestTimeoutMs');
export const NATS_SUBJECT_PREFIX = Symbol('NatsSubjectPrefix');
/** Most requests sent together in one NATS message (1: each on its own). */
export const NATS_REQUEST_BATCH_SIZE = Symbol('NatsRequestBatchSize');
/** Replicas of the object-store buckets, should the gateway be the first to create them. */
export const JETSTREAM_REPLICAS = Symbol('JetStreamReplicas');

/**
 * Request/reply to the token-service over NATS. Always bounded by a timeout (Nest's NATS
 * client has no "no responders" fast path), so an absent service is a prompt 503.
 */
@Injectable()
export class TokenServiceClient implements OnApplicationShutdown {
  private largeOutputs?: Promise<LargeOutputStore>;
  private readonly coalescer: RequestCoalescer;
  /** Trace context of each payload sent alone (its headers are written later, when the coalescer sends it). */
  private readonly traceContexts = new WeakMap<object, string>();

  constructor(
    @Inject(TOKEN_SERVICE_TRANSPORT) private readonly transport: ClientProxy,
    @Inject(NATS_REQUEST_TIMEOUT_MS) private readonly timeoutMs: number,
    @Inject(NATS_SUBJECT_PREFIX) private readonly subjectPrefix: string,
    private readonly metrics: GatewayMetrics,
    @Inject(JETSTREAM_REPLICAS) private readonly jetStreamReplicas: number,
    @Optional() @Inject(NATS_REQUEST_BATCH_SIZE) batchSize = DEFAULT_COALESCER_OPTIONS.maxRequests,
    @Optional() private readonly feed?: TokenEventFeed,
  ) {
    this.coalescer = new RequestCoalescer(
      (subject, payload) =>
        // A batch message carries each command's own correlation id in its metadata; a header
        // on it would stamp one request's id on all of them.
        firstValueFrom(
          this.transport
            .send(subject, subject === TokenRequestBatchSubject ? payload : this.withCorrelation(payload))
            .pipe(timeout(this.timeoutMs)),
        ),
      { ...DEFAULT_COALESCER_OPTIONS, maxRequests: batchSize },
    );
  }

  createToken = (command: CreateTokenCommand) => this.request<CreateTokenResult>(TokenCommandSubjects.create, command);
  cancelToken = (command: CancelTokenCommand) => this.change<TokenTransitionResult>(TokenCommandSubjects.cancel, command);
  rejectToken = (command: RejectTokenCommand) => this.change<TokenTransitionResult>(TokenCommandSubjects.reject, command);
  extendToken = (command: ExtendTokenCommand) => this.change<TokenTransitionResult>(TokenCommandSubjects.extend, command);
  heartbeatToken = (command: HeartbeatTokenCommand) => this.change<HeartbeatTokenResult>(TokenCommandSubjects.heartbeat, command);
  listTokens = (query: ListTokensQuery) => this.request<ListTokensResult>(TokenQuerySubjects.list, query);
  timeoutToken = (command: TimeoutTokenCommand) => this.change<TokenTransitionResult>(TokenCommandSubjects.timeout, command);
  tokenHistory = (query: TokenHistoryQuery) => this.request<TokenHistoryResult>(TokenQuerySubjects.history, query);
  tokenStats = (query: TokenStatsQuery) => this.request<TokenStatsResult>(TokenQuerySubjects.stats, query);
  approvalToken = (query: ApprovalTokenQuery) => this.request<TokenView>(TokenQuerySubjects.approval, query);

  async completeToken(command: CompleteTokenCommand): Promise<TokenTransitionResult> {
    if (!needsOffload(command.output)) return this.change(TokenCommandSubjects.complete, command);
    const { output, ...rest } = command;
    const outputRef = await this.withOutputStore((store) => store.upload(output));
    const offloaded = { ...rest, outputRef };
    return this.change(TokenCommandSubjects.complete, offloaded);
  }

  /**
   * A command that may change a token: the view this gateway remembers from the token's create
   * is forgotten first, so an event stream opened after the answer reads the token afresh
   * (read-your-writes through this gateway).
   */
  private change<T>(subject: string, command: Pick<CompleteTokenCommand, 'tokenId'>): Promise<T> {
    this.feed?.forgetCreated(command.tokenId);
    return this.request<T>(subject, command);
  }

  async getToken(query: GetTokenQuery): Promise<TokenView> {
    const token = await this.request<TokenView>(TokenQuerySubjects.get, query);
    if (token.outputChars === undefined) return token;
    // Too large for one reply: read it in slices (outputs never change once set).
    const { outputChars, ...rest } = token;
    const slices: Promise<OutputChunkResult>[] = [];
    for (let offset = 0; offset < outputChars; offset += OUTPUT_CHUNK_CHARS) {
      slices.push(this.request(TokenQuerySubjects.outputChunk, { ...query, offset, length: OUTPUT_CHUNK_CHARS }));
    }
    return { ...rest, output: (await Promise.all(slices)).map((s) => s.chunk).join('') };
  }

  /** Outputs too large for one NATS message go to the token-service through the object store. */
  private async withOutputStore<T>(work: (store: LargeOutputStore) => Promise<T>): Promise<T> {
    try {
      this.largeOutputs ??= this.transport
        .connect()
        .then((connection: NatsConnection) => LargeOutputStore.open(connection, this.subjectPrefix, this.jetStreamReplicas));
      return await work(await this.largeOutputs);
    } catch (error) {
      this.largeOutputs = undefined;
      throw ApiError.unavailable(`Large outputs cannot be moved through NATS right now (${(error as Error).message}); try again shortly`);
    }
  }

  /**
   * With tracing on, each request is a CLIENT span of the HTTP request's trace. Its context
   * goes into the command's `metadata.traceparent` (a batch message carries several commands,
   * each with its own) and, for a message sent alone, into its `traceparent` header too.
   */
  private request<T>(subject: string, payload: object): Promise<T> {
    return inSpan(
      `send ${subject}`,
      { kind: SpanKind.CLIENT, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject } },
      () => this.requestOnce<T>(subject, this.carryTraceContext(payload)),
    );
  }

  private carryTraceContext(payload: object): object {
    const traceparent = traceparentOf();
    if (traceparent === undefined) return payload;
    const metadata = (payload as { metadata?: object }).metadata;
    // In the metadata too: a request that travels in a batch message has no headers of its own.
    const carried = {
      ...payload,
      metadata: typeof metadata === 'object' && metadata !== null ? { ...metadata, traceparent } : { traceparent },
    };
    this.traceContexts.set(carried, traceparent);
    return carried;
  }

  private async requestOnce<T>(subject: string, payload: object): Promise<T> {
    const startedAt = process.hrtime.bigint();
    const observe = (outcome: string) => this.metrics.natsRequests.observe({ subject, outcome }, secondsSince(startedAt));
    let reply: RpcReply<T>;
    try {
      reply = (await this.coalescer.request(subject, payload)) as RpcReply<T>;
    } catch (error) {
      observe(error instanceof TimeoutError ? 'timeout' : 'unavailable');
      if (error instanceof TimeoutError) {
        throw ApiError.unavailable(`The token service did not answer within ${this.timeoutMs} ms; try again shortly`);
      }
      if (error instanceof NatsUnreachableError) {
        throw ApiError.unavailable('The message bus (NATS) is unreachable; the gateway is reconnecting, try again shortly');
      }
      const detail = error instanceof Error ? error.message : ((error as { message?: string })?.message ?? String(error));
      // NATS answers "no responders" (code 503) when no subscriber listens on the subject.
      if ((error as { code?: string }).code === '503' || /no (subscribers|responders)/i.test(detail)) {
        throw ApiError.unavailable('No token-service instance is listening on NATS; try again shortly');
      }
      throw ApiError.unavailable(`The token service cannot be reached over NATS (${detail}); try again shortly`);
    }
    observe(reply.ok ? 'ok' : reply.error.code);
    if (!reply.ok) throw ApiError.from(reply.error);
    return reply.value;
  }

  /** The request's correlation id travels in a NATS header; the token-service stores it on the events. */
  private withCorrelation(payload: object) {
    const fromMetadata = (payload as { metadata?: { correlationId?: string } }).metadata?.correlationId;
    const correlationId = currentCorrelationId() ?? fromMetadata;
    const traceparent = this.traceContexts.get(payload);
    if (correlationId === undefined && traceparent === undefined) return payload;
    const headers = natsHeaders();
    if (correlationId !== undefined) headers.set(CORRELATION_ID_HEADER, correlationId);
    if (traceparent !== undefined) headers.set(TRACEPARENT_HEADER, traceparent);
    return new NatsRecordBuilder(payload).setHeaders(headers).build();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transport.close();
  }
}
