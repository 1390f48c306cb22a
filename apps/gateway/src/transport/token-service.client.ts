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
  OutputChunkResult,
  RpcReply,
  TokenCommandSubjects,
  TokenQuerySubjects,
  TokenTransitionResult,
  TokenView,
} from '@waitpoints/contracts';
import { LargeOutputStore, OUTPUT_CHUNK_CHARS, needsOffload } from '@waitpoints/contracts/nats/output-store';
import { NatsUnreachableError } from '@waitpoints/contracts/nats/prefixed-transport';
import type { NatsConnection } from 'nats';
import { ApiError } from '../http/api-error';

export const TOKEN_SERVICE_TRANSPORT = Symbol('TokenServiceTransport');
export const NATS_REQUEST_TIMEOUT_MS = Symbol('NatsRequestTimeoutMs');
export const NATS_SUBJECT_PREFIX = Symbol('NatsSubjectPrefix');
/** Replicas of the object-store buckets, should the gateway be the first to create them. */
export const JETSTREAM_REPLICAS = Symbol('JetStreamReplicas');

/**
 * Request/reply to the token-service over NATS. Always bounded by a timeout (Nest's NATS
 * client has no "no responders" fast path), so an absent service is a prompt 503.
 */
@Injectable()
export class TokenServiceClient implements OnApplicationShutdown {
  private largeOutputs?: Promise<LargeOutputStore>;

  constructor(
    @Inject(TOKEN_SERVICE_TRANSPORT) private readonly transport: ClientProxy,
    @Inject(NATS_REQUEST_TIMEOUT_MS) private readonly timeoutMs: number,
    @Inject(NATS_SUBJECT_PREFIX) private readonly subjectPrefix: string,
    @Inject(JETSTREAM_REPLICAS) private readonly jetStreamReplicas: number,
  ) {}

  createToken = (command: CreateTokenCommand) => this.request<CreateTokenResult>(TokenCommandSubjects.create, command);
  cancelToken = (command: CancelTokenCommand) => this.request<TokenTransitionResult>(TokenCommandSubjects.cancel, command);
  listTokens = (query: ListTokensQuery) => this.request<ListTokensResult>(TokenQuerySubjects.list, query);

  async completeToken(command: CompleteTokenCommand): Promise<TokenTransitionResult> {
    if (!needsOffload(command.output)) return this.request(TokenCommandSubjects.complete, command);
    const { output, ...rest } = command;
    const outputRef = await this.withOutputStore((store) => store.upload(output));
    return this.request(TokenCommandSubjects.complete, { ...rest, outputRef });
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

  private async request<T>(subject: string, payload: object): Promise<T> {
    let reply: RpcReply<T>;
    try {
      reply = await firstValueFrom(this.transport.send<RpcReply<T>>(subject, payload).pipe(timeout(this.timeoutMs)));
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw ApiError.unavailable(`The token service did not answer within ${this.timeoutMs} ms; try again shortly`);
      }
      if (error instanceof NatsUnreachableError) {
        throw ApiError.unavailable('The message bus (NATS) is unreachable; the gateway is reconnecting, try again shortly');
      }
      const detail = error instanceof Error ? error.message : (error as { message?: string })?.message ?? String(error);
      // NATS answers "no responders" (code 503) when no subscriber listens on the subject.
      if ((error as { code?: string }).code === '503' || /no (subscribers|responders)/i.test(detail)) {
        throw ApiError.unavailable('No token-service instance is listening on NATS; try again shortly');
      }
      throw ApiError.unavailable(`The token service cannot be reached over NATS (${detail}); try again shortly`);
    }
    if (!reply.ok) throw ApiError.from(reply.error);
    return reply.value;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transport.close();
  }
}
