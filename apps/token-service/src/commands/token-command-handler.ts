import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { Pool } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { DataSource, EntityManager } from 'typeorm';
import {
  CancelTokenCommand,
  CompleteTokenCommand,
  CreateTokenCommand,
  CreateTokenResult,
  EventEnvelope,
  MessageMetadata,
  RpcReply,
  TimeoutTokenCommand,
  TimeoutTokensCommand,
  TokenTransitionResult,
  TokenView,
  WaitpointError,
  rpcError,
  rpcOk,
  tokenStreamId,
} from '@waitpoints/contracts';
import { decide, evolve, foldToken, initialState, TokenCommand } from '../domain/token.decider';
import { decideIdempotency } from '../domain/idempotency';
import { ConcurrencyError, EventStore, SingleEventAppend, toDomainEvent } from '../event-store/event-store';
import { TokenProjection } from '../projections/token-projection';
import { TokenQueries } from '../projections/token-queries';
import { JetStreamPublisher } from '../outbox/jetstream-publisher';
import { OutboxRelay } from '../outbox/outbox-relay';
import { TokenServiceMetrics } from '../ops/token-service-metrics';
import { CLOCK, Clock, TOKEN_IDS, TokenIdGenerator } from './clock';
import { CommandBatchingOptions, TokenCommandBatches, TransitionRequest } from './token-command-batches';

const MAX_ATTEMPTS = 5;

export const COMMAND_BATCHING = Symbol('CommandBatching');
export const DEFAULT_COMMAND_BATCHING: CommandBatchingOptions = { maxBatchSize: 100, maxInFlight: 4 };
/** Larger outputs are written one command at a time rather than packed into a batch statement. */
const MAX_BATCHED_OUTPUT_CHARS = 64 * 1024;

/**
 * Load → decide → append (+ inline projection) in one transaction per command.
 * A ConcurrencyError means another writer got there first: re-read and decide again,
 * which is how racing completions and timeouts end with exactly one terminal event.
 *
 * Under load, concurrent creates and transitions are written in batches instead (see
 * TokenCommandBatches), with the same decisions and answers; creates with idempotency keys
 * and large outputs always take the one-command path.
 */
@Injectable()
export class TokenCommandHandler {
  private readonly logger = new Logger(TokenCommandHandler.name);
  private readonly batches?: TokenCommandBatches;

  constructor(
    private readonly db: DataSource,
    private readonly store: EventStore,
    private readonly projection: TokenProjection,
    private readonly queries: TokenQueries,
    private readonly outbox: OutboxRelay,
    private readonly publisher: JetStreamPublisher,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(TOKEN_IDS) private readonly ids: TokenIdGenerator,
    private readonly metrics: TokenServiceMetrics,
    @Optional() @Inject(COMMAND_BATCHING) batching: CommandBatchingOptions = DEFAULT_COMMAND_BATCHING,
  ) {
    if (batching.maxBatchSize > 0) {
      const pool = (db.driver as PostgresDriver).master as Pool;
      this.batches = new TokenCommandBatches(
        pool,
        clock,
        ids,
        { create: (command) => this.createOne(command), transition: (request) => this.transitionOne(request) },
        (stored, createdAtOf) => {
          this.outbox.wake();
          this.metrics.recordCommitted(stored as EventEnvelope[], createdAtOf);
        },
        batching,
      );
    }
  }

  create(command: CreateTokenCommand): Promise<CreateTokenResult> {
    // A request key alone batches (a retry makes the batch fall back to this path); an
    // idempotency key does not: its reservation is looked up and may be taken over.
    return this.batches && command.idempotencyKey === undefined ? this.batches.create(command) : this.createOne(command);
  }

  private createOne(command: CreateTokenCommand): Promise<CreateTokenResult> {
    return this.withRetries(async (m) => {
      const now = this.clock.now();
      const { environment } = command;

      if (command.requestIdempotencyKey !== undefined) {
        const earlier = await this.queries.findTokenIdByRequestKey(m, environment, command.requestIdempotencyKey);
        if (earlier) return { result: await this.existing(m, environment, earlier, false) };
      }
      if (command.idempotencyKey !== undefined) {
        const reservation = await this.queries.findTokenIdByIdempotencyKey(m, environment, command.idempotencyKey);
        const decision = decideIdempotency(reservation, now);
        if (decision.kind === 'reuse') {
          return { result: await this.existing(m, environment, decision.tokenId, true) };
        }
      }

      const tokenId = this.ids.next();
      const events = decide(
        {
          type: 'CreateToken',
          tokenId,
          environment,
          idempotencyKey: command.idempotencyKey,
          idempotencyKeyTTLMs: command.idempotencyKeyTTLMs,
          timeout: command.timeout,
          tags: command.tags,
          requestIdempotencyKey: command.requestIdempotencyKey,
          now,
        },
        initialState,
      );
      const { stored, views } = await this.appendAndProject(m, tokenStreamId(tokenId), 0, events, command.metadata);
      return { result: { token: views[views.length - 1], isCached: false }, stored };
    });
  }

  async complete(command: CompleteTokenCommand): Promise<TokenTransitionResult> {
    // A large output was parked in the object store by the gateway; fetch it before deciding.
    const output =
      command.outputRef !== undefined ? await this.publisher.outputs.takeUpload(command.outputRef) : command.output;
    try {
      const request: TransitionRequest = {
        tokenId: command.tokenId,
        metadata: command.metadata,
        toCommand: (now) => ({
          type: 'CompleteToken',
          tokenId: command.tokenId,
          environment: command.environment,
          output,
          outputType: command.outputType,
          channel: command.channel,
          now,
        }),
      };
      const large = output !== undefined && output.length > MAX_BATCHED_OUTPUT_CHARS;
      return await (this.batches && !large ? this.batches.transition(request) : this.transitionOne(request));
    } finally {
      if (command.outputRef !== undefined) await this.publisher.outputs.discardUpload(command.outputRef);
    }
  }

  cancel(command: CancelTokenCommand): Promise<TokenTransitionResult> {
    return this.transition({
      tokenId: command.tokenId,
      metadata: command.metadata,
      toCommand: (now) => ({
        type: 'CancelToken',
        tokenId: command.tokenId,
        environment: command.environment,
        reason: command.reason,
        now,
      }),
    });
  }

  timeout(command: TimeoutTokenCommand): Promise<TokenTransitionResult> {
    return this.transition({
      tokenId: command.tokenId,
      metadata: command.metadata,
      toCommand: (now) => ({
        type: 'TimeOutToken',
        tokenId: command.tokenId,
        environment: command.environment,
        force: command.force ?? false,
        now,
      }),
    });
  }

  /**
   * Many timeouts in one transaction: read every stream at once, let the decider decide each
   * token exactly as `timeout()` would, append the decided events in one statement. A token
   * whose stream moved meanwhile (a racing completion) is re-read and decided again, so the
   * first writer still wins and the loser changes nothing. Failures are per token.
   */
  async timeoutMany(command: TimeoutTokensCommand): Promise<RpcReply<TokenTransitionResult>[]> {
    const replies: RpcReply<TokenTransitionResult>[] = new Array(command.timeouts.length);
    let undecided = command.timeouts.map((timeout, index) => ({ ...timeout, index, streamId: tokenStreamId(timeout.tokenId) }));
    const committed: EventEnvelope[] = [];
    const createdAt = new Map<string, string>();
    await this.db.transaction(async (m) => {
      for (let attempt = 1; undecided.length > 0; attempt++) {
        if (attempt > MAX_ATTEMPTS) throw new Error(`timeouts kept losing races after ${MAX_ATTEMPTS} attempts`);
        const streams = await this.store.readStreams(m, [...new Set(undecided.map((t) => t.streamId))]);
        const now = this.clock.now();
        const appends = new Map<string, SingleEventAppend & { index: number; result: TokenTransitionResult }>();
        const retry: typeof undecided = [];
        for (const timeout of undecided) {
          const { tokenId, environment, index, streamId } = timeout;
          const { events, version } = streams.get(streamId) ?? { events: [], version: 0 };
          const state = foldToken(events.map(toDomainEvent));
          createdAt.set(streamId, (events[0]?.data as { createdAt?: string } | undefined)?.createdAt ?? '');
          let decided;
          try {
            decided = decide({ type: 'TimeOutToken', tokenId, environment, force: false, now }, state);
          } catch (error) {
            if (!(error instanceof WaitpointError)) throw error;
            replies[index] = rpcError(error.toBody());
            continue;
          }
          const after = decided.reduce(evolve, state);
          const result = { tokenId, status: after.status as TokenTransitionResult['status'], changed: decided.length > 0 };
          if (decided.length === 0) replies[index] = rpcOk(result);
          // The same token twice in one batch: the second is decided again after the first is stored.
          else if (appends.has(streamId)) retry.push(timeout);
          // The decider emits at most one event per command; appendOneEventPerStream relies on it.
          else appends.set(streamId, { streamId, expectedVersion: version, event: decided[0], index, result });
        }
        const { stored, lostStreamIds } = await this.store.appendOneEventPerStream(m, [...appends.values()], command.metadata);
        await this.projection.applyAll(m, stored);
        committed.push(...stored);
        for (const envelope of stored) {
          const { index, result } = appends.get(envelope.streamId)!;
          replies[index] = rpcOk(result);
        }
        const lost = new Set(lostStreamIds);
        undecided = [...undecided.filter((t) => lost.has(t.streamId) && appends.get(t.streamId)?.index === t.index), ...retry];
      }
    });
    if (committed.length > 0) {
      this.outbox.wake();
      this.metrics.recordCommitted(committed, (streamId) => createdAt.get(streamId) || undefined);
    }
    return replies;
  }

  private transition(request: TransitionRequest): Promise<TokenTransitionResult> {
    return this.batches ? this.batches.transition(request) : this.transitionOne(request);
  }

  private transitionOne({ tokenId, metadata, toCommand }: TransitionRequest): Promise<TokenTransitionResult> {
    return this.withRetries<TokenTransitionResult>(async (m) => {
      const streamId = tokenStreamId(tokenId);
      const { events, version } = await this.store.readStream(m, streamId);
      const state = foldToken(events.map(toDomainEvent));
      const decided = decide(toCommand(this.clock.now()), state);
      if (decided.length === 0) {
        return { result: { tokenId, status: state.status as TokenTransitionResult['status'], changed: false } };
      }
      const { stored } = await this.appendAndProject(m, streamId, version, decided, metadata);
      const after = decided.reduce(evolve, state);
      const createdAt = (events[0]?.data as { createdAt?: string } | undefined)?.createdAt;
      return { result: { tokenId, status: after.status as TokenTransitionResult['status'], changed: true }, stored, createdAt };
    });
  }

  private async appendAndProject(
    m: EntityManager,
    streamId: string,
    expectedVersion: number,
    events: ReturnType<typeof decide>,
    metadata: MessageMetadata,
  ): Promise<{ stored: EventEnvelope[]; views: TokenView[] }> {
    const stored = await this.store.append(m, streamId, expectedVersion, events, metadata);
    const views: TokenView[] = [];
    for (const envelope of stored) views.push(await this.projection.apply(m, envelope));
    return { stored, views };
  }

  private async existing(m: EntityManager, environment: string, tokenId: string, isCached: boolean) {
    const token = await this.queries.get(m, environment, tokenId);
    if (!token) throw new Error(`reservation points at missing token ${tokenId}`);
    return { token, isCached };
  }

  private async withRetries<T>(
    work: (m: EntityManager) => Promise<{ result: T; stored?: EventEnvelope[]; createdAt?: string }>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        // Postgres' default READ COMMITTED: naming it would cost one more statement per command.
        const { result, stored, createdAt } = await this.db.transaction(work);
        if (stored?.length) {
          this.outbox.wake();
          this.metrics.recordCommitted(stored, () => createdAt);
        }
        return result;
      } catch (error) {
        if (!(error instanceof ConcurrencyError || isTransientConflict(error)) || attempt >= MAX_ATTEMPTS) throw error;
        this.logger.debug(`retrying after a lost race (attempt ${attempt}): ${(error as Error).message}`);
      }
    }
  }
}

/**
 * A deadlock (40P01) or serialization failure (40001) rolled the whole transaction back:
 * nothing was written, so deciding again from a fresh read is safe (e.g. a command that met
 * a projection rebuild's table locks).
 */
function isTransientConflict(error: unknown): boolean {
  const code = (error as { driverError?: { code?: string }; code?: string }).driverError?.code ?? (error as { code?: string }).code;
  return code === '40P01' || code === '40001';
}
