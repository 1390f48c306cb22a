import { v7 as timeOrderedUuid } from 'uuid';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import {
  CancelTokenCommand,
  CompleteTokenCommand,
  CreateTokenCommand,
  CreateTokenResult,
  ErrorCode,
  EventEnvelope,
  ExtendTokenCommand,
  HeartbeatTokenCommand,
  HeartbeatTokenResult,
  MessageMetadata,
  RejectTokenCommand,
  RpcReply,
  TimeoutTokenCommand,
  TimeoutTokensCommand,
  TokenCreated,
  TokenTransitionResult,
  WaitpointError,
  rpcError,
  rpcOk,
  tokenNotFound,
  tokenStreamId,
} from '@waitpoints/contracts';
import {
  decide,
  effectiveDeadline,
  evolve,
  foldToken,
  HeartbeatInput,
  initialState,
  needsHeartbeatDeadline,
  TokenCommand,
  TokenState,
} from '../domain/token.decider';
import { decideIdempotency } from '../domain/idempotency';
import { classifyFailure, Database, MAX_ATTEMPTS } from '../database/database';
import { appendToStreams, readStreams, StreamAppend, toDomainEvent } from '../event-store/event-store';
import { createdTokenView } from '../projections/token-projection';
import { keyOf, TokenQueries } from '../projections/token-queries';
import { CLOCK, Clock, TOKEN_IDS, TokenIdGenerator } from './clock';
import { CommandBatcher, Settled } from './command-batcher';

export interface CommandBatchingOptions {
  /** Most commands written by one statement; 1 writes each command on its own. */
  maxBatchSize: number;
  /** Batches running at once per token-service process. */
  maxInFlight: number;
}

export const COMMAND_BATCHING = Symbol('CommandBatching');
export const DEFAULT_COMMAND_BATCHING: CommandBatchingOptions = { maxBatchSize: 100, maxInFlight: 4 };

/**
 * Longest a stream's state is remembered (ms), when token retention removes finished tokens:
 * under the shortest retention. Remembered state of a token another instance finished could
 * otherwise outlive the token's events, and an append at the remembered version would find no
 * row to conflict with (see TokenRetention). Unset: remembered until evicted.
 */
export const REMEMBER_STREAMS_FOR_MS = Symbol('RememberStreamsForMs');

/** Told after every commit, with the events stored (the outbox, the live feed, the metrics). */
export const COMMIT_LISTENER = Symbol('CommitListener');
export type CommitListener = (stored: EventEnvelope[], createdAtOf: (streamId: string) => string | undefined) => void;

/** Streams whose state this instance remembers (it wrote or read them lately). */
const REMEMBERED_STREAMS = 100_000;

/** A stream folded to the decider's state, at the version it was read or written. */
interface KnownStream {
  state: TokenState;
  version: number;
  createdAt?: string;
}

/**
 * A complete, cancel, reject, extend or timeout: which token, and the decider command it becomes
 * at a given time with the inputs read for it (a heartbeat token's current heartbeat deadline).
 */
interface TransitionRequest {
  tokenId: string;
  metadata: MessageMetadata;
  toCommand: (now: Date, inputs: HeartbeatInput) => TokenCommand;
}

/**
 * Every write of the token-service, one way: read the streams → fold → decide (the pure
 * decider) → append the decided events with their inline projection (one statement).
 *
 * Commands that arrive together are handled together (CommandBatcher): one read and one
 * append statement serve the whole batch, and each command is still decided and answered on
 * its own. A single command is a batch of one. First writer wins, under any race: an append
 * expects the version it decided on, a stream that moved meanwhile is read again and decided
 * again (a finished token decides nothing), up to MAX_ATTEMPTS rounds.
 *
 * The read is skipped for a stream this instance wrote or read lately: it decides on the state
 * it remembers, and the append's expected version tells whether that state was still current
 * (another instance may have moved the stream); a lost race reads again. A finished token is
 * final, so what is remembered of it stays true.
 *
 * A batch that PostgreSQL refuses as a whole (one command's key was taken concurrently, one
 * output cannot be stored) is handled again one command at a time, so one command fails alone.
 */
@Injectable()
export class TokenCommandHandler {
  private readonly creates: CommandBatcher<CreateTokenCommand, CreateTokenResult>;
  private readonly transitions: CommandBatcher<TransitionRequest, TokenTransitionResult>;
  private readonly heartbeats: CommandBatcher<HeartbeatTokenCommand, HeartbeatTokenResult>;
  /**
   * Event ids are UUIDv7 (RFC 9562: time first, then random): es_events' unique index on
   * event_id then grows at its right edge like the other indexes, instead of taking each insert
   * at a random page of an index that, at tens of millions of events, no longer fits in memory.
   */
  private readonly newEventId: () => string = timeOrderedUuid;
  private readonly known: LRUCache<string, KnownStream>;

  constructor(
    private readonly db: Database,
    private readonly queries: TokenQueries,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(TOKEN_IDS) private readonly ids: TokenIdGenerator,
    @Inject(COMMIT_LISTENER) private readonly committed: CommitListener,
    @Optional() @Inject(COMMAND_BATCHING) batching: CommandBatchingOptions = DEFAULT_COMMAND_BATCHING,
    @Optional() @Inject(REMEMBER_STREAMS_FOR_MS) rememberForMs?: number,
  ) {
    this.known = new LRUCache<string, KnownStream>({ max: REMEMBERED_STREAMS, ...(rememberForMs ? { ttl: rememberForMs } : {}) });
    const options = { maxBatchSize: Math.max(1, batching.maxBatchSize), maxInFlight: Math.max(1, batching.maxInFlight) };
    this.creates = new CommandBatcher((batch) => this.inBatch(batch, (b, afterLostRace) => this.createAll(b, afterLostRace)), options);
    this.transitions = new CommandBatcher((batch) => this.inBatch(batch, (b) => this.transitionAll(b)), options);
    this.heartbeats = new CommandBatcher((batch) => this.inBatch(batch, (b) => this.heartbeatAll(b)), options);
  }

  create(command: CreateTokenCommand): Promise<CreateTokenResult> {
    return this.creates.submit(command);
  }

  /** The output arrives inline: the messaging adapter fetches a large one from the object store first. */
  complete(command: Omit<CompleteTokenCommand, 'outputRef'>): Promise<TokenTransitionResult> {
    return this.transition(command.tokenId, command.metadata, (now) => ({
      type: 'CompleteToken',
      tokenId: command.tokenId,
      environment: command.environment,
      output: command.output,
      outputType: command.outputType,
      channel: command.channel,
      now,
    }));
  }

  cancel(command: CancelTokenCommand): Promise<TokenTransitionResult> {
    return this.transition(command.tokenId, command.metadata, (now) => ({
      type: 'CancelToken',
      tokenId: command.tokenId,
      environment: command.environment,
      reason: command.reason,
      now,
    }));
  }

  reject(command: RejectTokenCommand): Promise<TokenTransitionResult> {
    return this.transition(command.tokenId, command.metadata, (now) => ({
      type: 'RejectToken',
      tokenId: command.tokenId,
      environment: command.environment,
      error: command.error,
      channel: command.channel,
      now,
    }));
  }

  extend(command: ExtendTokenCommand): Promise<TokenTransitionResult> {
    return this.transition(command.tokenId, command.metadata, (now, inputs) => ({
      type: 'ExtendDeadline',
      tokenId: command.tokenId,
      environment: command.environment,
      timeout: command.timeout,
      ...inputs,
      now,
    }));
  }

  timeout(command: TimeoutTokenCommand): Promise<TokenTransitionResult> {
    return this.transition(command.tokenId, command.metadata, (now, inputs) => ({
      type: 'TimeOutToken',
      tokenId: command.tokenId,
      environment: command.environment,
      force: command.force ?? false,
      ...inputs,
      now,
    }));
  }

  /**
   * Restarts a waiting heartbeat token's heartbeat clock. Not an event, and not decided: one
   * UPDATE of the token's read row moves `heartbeat_deadline` (never earlier), batched like the
   * other commands. A timeout racing it is settled by the row (see the append's heartbeat
   * precondition): whichever commits first wins, and a heartbeat after a timeout finds the token
   * finished.
   */
  heartbeat(command: HeartbeatTokenCommand): Promise<HeartbeatTokenResult> {
    return this.heartbeats.submit(command);
  }

  /** The scheduler's many timeouts: each one a command like `timeout()`, answered on its own. */
  timeoutMany(command: TimeoutTokensCommand): Promise<RpcReply<TokenTransitionResult>[]> {
    return Promise.all(
      command.timeouts.map((timeout) =>
        this.timeout({ ...timeout, metadata: command.metadata }).then(rpcOk, (error: unknown) => {
          if (error instanceof WaitpointError) return rpcError(error.toBody());
          throw error;
        }),
      ),
    );
  }

  private transition(tokenId: string, metadata: MessageMetadata, toCommand: TransitionRequest['toCommand']) {
    return this.transitions.submit({ tokenId, metadata, toCommand });
  }

  /**
   * Runs a batch; if PostgreSQL refused its statement as a whole, runs each command again as a
   * batch of its own, so the command that caused it fails alone and the others go through.
   */
  private async inBatch<C, R>(
    commands: C[],
    handle: (commands: C[], afterLostRace: boolean) => Promise<Settled<R>[]>,
    afterLostRace = false,
  ): Promise<Settled<R>[]> {
    let retrying = afterLostRace;
    for (let attempt = 1; ; attempt++) {
      try {
        return await handle(commands, retrying);
      } catch (error) {
        const kind = classifyFailure(error);
        if (kind === 'transient' && attempt < MAX_ATTEMPTS) continue;
        if ((kind === 'lost-race' || kind === 'refused') && commands.length > 1) {
          return Promise.all(
            commands.map((command) =>
              this.inBatch([command], handle, kind === 'lost-race').then(
                (results) => results[0],
                (failure: unknown): Settled<R> => ({ ok: false, error: failure }),
              ),
            ),
          );
        }
        if (kind === 'lost-race' && attempt < MAX_ATTEMPTS) {
          retrying = true; // a key taken meanwhile: look it up and decide again
          continue;
        }
        throw error;
      }
    }
  }

  private async createAll(commands: CreateTokenCommand[], afterLostRace: boolean): Promise<Settled<CreateTokenResult>[]> {
    const results: Settled<CreateTokenResult>[] = new Array(commands.length);
    const now = this.clock.now();
    // After a key race (a repeated request, most often) the request keys are looked up first.
    const earlier = await this.earlierTokens(commands, now, afterLostRace);
    const appends: (StreamAppend & { index: number })[] = [];
    for (const [index, command] of commands.entries()) {
      const existing = earlier.get(index);
      if (existing) {
        const token = await this.queries.get(this.db, command.environment, existing.tokenId);
        results[index] = token
          ? { ok: true, value: { token, isCached: existing.isCached } }
          : { ok: false, error: new Error(`a key points at missing token ${existing.tokenId}`) };
        continue;
      }
      try {
        const tokenId = this.ids.next();
        const [event] = decide({ ...command, type: 'CreateToken', tokenId, now }, initialState);
        appends.push({
          index,
          streamId: tokenStreamId(tokenId),
          expectedVersion: 0,
          eventId: this.newEventId(),
          event,
          metadata: command.metadata,
        });
      } catch (error) {
        results[index] = { ok: false, error };
      }
    }
    const { stored } = await appendToStreams(this.db, appends);
    for (const { index, event } of appends) {
      results[index] = { ok: true, value: { token: createdTokenView(event as TokenCreated, 1), isCached: false } };
    }
    for (const envelope of stored) this.remember(envelope.streamId, [envelope]);
    if (stored.length > 0) this.committed(stored, () => undefined);
    return results;
  }

  /**
   * Tokens that creates with keys must answer instead of creating: the live reservation of an
   * idempotency key, and (when `withRequestKeys`) the token a request key already created.
   * Request keys are looked up only after a batch failed on one: a repeated request is rare,
   * and the append's key check catches it.
   */
  private async earlierTokens(commands: CreateTokenCommand[], now: Date, withRequestKeys: boolean) {
    const requestKeys = withRequestKeys
      ? commands.flatMap((c) =>
          c.requestIdempotencyKey === undefined ? [] : [{ environment: c.environment, key: c.requestIdempotencyKey }],
        )
      : [];
    const idempotencyKeys = commands.flatMap((c) =>
      c.idempotencyKey === undefined ? [] : [{ environment: c.environment, key: c.idempotencyKey }],
    );
    // One statement per kind of key for the whole batch, not one per command.
    const [created, reservations] = await Promise.all([
      this.queries.requestKeyTokens(this.db, requestKeys),
      this.queries.idempotencyReservations(this.db, idempotencyKeys),
    ]);
    const earlier = new Map<number, { tokenId: string; isCached: boolean }>();
    for (const [index, command] of commands.entries()) {
      const createdBefore =
        withRequestKeys && command.requestIdempotencyKey !== undefined
          ? created.get(keyOf(command.environment, command.requestIdempotencyKey))
          : undefined;
      if (createdBefore) {
        earlier.set(index, { tokenId: createdBefore, isCached: false });
        continue;
      }
      if (command.idempotencyKey !== undefined) {
        const decision = decideIdempotency(reservations.get(keyOf(command.environment, command.idempotencyKey)), now);
        if (decision.kind === 'reuse') earlier.set(index, { tokenId: decision.tokenId, isCached: true });
      }
    }
    return earlier;
  }

  /** Each stream's state: remembered (when `remembered` may be used) or read and folded. */
  private async currentStreams(streamIds: string[], mayRemember: boolean) {
    const streams = new Map<string, KnownStream>();
    const remembered = new Set<string>();
    const toRead: string[] = [];
    for (const streamId of new Set(streamIds)) {
      const known = mayRemember ? this.known.get(streamId) : undefined;
      if (known) {
        streams.set(streamId, known);
        remembered.add(streamId);
      } else {
        toRead.push(streamId);
      }
    }
    if (toRead.length > 0) {
      const read = await readStreams(this.db, toRead);
      for (const streamId of toRead) {
        const events = read.get(streamId)?.events;
        if (events) streams.set(streamId, this.remember(streamId, events));
      }
    }
    return { streams, remembered };
  }

  private remember(streamId: string, events: EventEnvelope[]): KnownStream {
    const known: KnownStream = {
      state: foldToken(events.map(toDomainEvent)),
      version: events[events.length - 1].streamVersion,
      createdAt: (events[0].data as { createdAt?: string }).createdAt,
    };
    this.known.set(streamId, known);
    return known;
  }

  /**
   * The current heartbeat deadline of the waiting heartbeat tokens whose command depends on it,
   * read for every round: heartbeats move it without an event, so no remembered state has it.
   */
  private async heartbeatDeadlinesFor(
    undecided: { request: TransitionRequest; streamId: string }[],
    streams: Map<string, KnownStream>,
  ): Promise<Map<string, Date>> {
    const probe = this.clock.now();
    const tokenIds = undecided
      .filter(({ request, streamId }) => {
        const state = streams.get(streamId)?.state;
        return (
          state?.status === 'WAITING' && state.heartbeatTimeoutMs !== undefined && needsHeartbeatDeadline(request.toCommand(probe, {}))
        );
      })
      .map(({ request }) => request.tokenId);
    return tokenIds.length === 0 ? new Map() : this.queries.heartbeatDeadlines(this.db, tokenIds);
  }

  private async heartbeatAll(commands: HeartbeatTokenCommand[]): Promise<Settled<HeartbeatTokenResult>[]> {
    const now = this.clock.now();
    const rows = await this.db.query<{ id: string; environment: string; heartbeat_deadline: Date; timeout_at: Date }>({
      name: 'waitpoints-heartbeat-v1',
      text: `UPDATE waitpoint_tokens t
                SET heartbeat_deadline = GREATEST(t.heartbeat_deadline, $3::timestamptz + t.heartbeat_timeout_ms * interval '1 millisecond')
               FROM unnest($1::text[], $2::text[]) AS i(id, environment)
              WHERE t.id = i.id AND t.environment = i.environment AND t.status = 'WAITING' AND t.heartbeat_timeout_ms IS NOT NULL
          RETURNING t.id, t.environment, t.heartbeat_deadline, t.timeout_at`,
      values: [commands.map((c) => c.tokenId), commands.map((c) => c.environment), now],
    });
    const beaten = new Map(rows.map((row) => [`${row.environment}/${row.id}`, row]));
    return Promise.all(
      commands.map(async (command): Promise<Settled<HeartbeatTokenResult>> => {
        const row = beaten.get(`${command.environment}/${command.tokenId}`);
        if (row) {
          const deadline = effectiveDeadline(row.timeout_at, row.heartbeat_deadline);
          return {
            ok: true,
            value: {
              tokenId: command.tokenId,
              status: 'WAITING',
              heartbeatDeadline: row.heartbeat_deadline.toISOString(),
              timeoutAt: row.timeout_at.toISOString(),
              deadline: deadline.toISOString(),
            },
          };
        }
        return { ok: false, error: await this.whyNoHeartbeat(command) };
      }),
    );
  }

  /** Why a heartbeat changed nothing: the token is unknown (here), finished, or has no heartbeat clock. */
  private async whyNoHeartbeat(command: HeartbeatTokenCommand): Promise<WaitpointError> {
    const token = await this.queries.get(this.db, command.environment, command.tokenId);
    if (!token) return tokenNotFound(command.tokenId);
    if (token.status !== 'WAITING') {
      return new WaitpointError(
        ErrorCode.TokenAlreadyFinished,
        `Waitpoint token ${command.tokenId} is already ${token.status}; heartbeats no longer count`,
      );
    }
    return new WaitpointError(
      ErrorCode.ValidationFailed,
      `Waitpoint token ${command.tokenId} was created without a heartbeatTimeout, so it has no heartbeat clock to restart`,
    );
  }

  private async transitionAll(requests: TransitionRequest[]): Promise<Settled<TokenTransitionResult>[]> {
    const results: Settled<TokenTransitionResult>[] = new Array(requests.length);
    let undecided = requests.map((request, index) => ({ request, index, streamId: tokenStreamId(request.tokenId) }));
    for (let attempt = 1; undecided.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) {
        const error = new Error(`kept losing races to concurrent writers after ${MAX_ATTEMPTS} attempts`);
        for (const { index } of undecided) results[index] = { ok: false, error };
        break;
      }
      // The first round decides on what this instance remembers; a round after a lost race reads.
      const { streams, remembered } = await this.currentStreams(
        undecided.map((u) => u.streamId),
        attempt === 1,
      );
      const heartbeatDeadlines = await this.heartbeatDeadlinesFor(undecided, streams);
      const now = this.clock.now();
      const appends = new Map<string, StreamAppend & { pending: (typeof undecided)[number]; result: TokenTransitionResult }>();
      const again: typeof undecided = [];
      for (const pending of undecided) {
        const { request, index, streamId } = pending;
        const { state, version } = streams.get(streamId) ?? { state: initialState, version: 0 };
        const heartbeatDeadline = heartbeatDeadlines.get(request.tokenId);
        let decided;
        try {
          decided = decide(request.toCommand(now, { heartbeatDeadline }), state);
        } catch (error) {
          results[index] = { ok: false, error };
          continue;
        }
        const after = decided.reduce(evolve, state);
        if (decided.length === 0 && state.status === 'WAITING' && remembered.has(streamId)) {
          again.push(pending); // "nothing to do" about a waiting token is only said after a fresh read
        } else if (decided.length === 0) {
          results[index] = { ok: true, value: transitionResult(request.tokenId, after, false, heartbeatDeadline) };
        } else if (appends.has(streamId)) {
          again.push(pending); // the same token twice in one batch: decided again after the first
        } else {
          const [event] = decided; // the decider decides at most one event per command
          appends.set(streamId, {
            streamId,
            expectedVersion: version,
            eventId: this.newEventId(),
            event,
            metadata: request.metadata,
            pending,
            result: transitionResult(request.tokenId, after, true, heartbeatDeadline),
          });
        }
      }
      const { stored, lostStreamIds } = await appendToStreams(this.db, [...appends.values()]);
      const lost = new Set(lostStreamIds);
      for (const [streamId, { pending, result }] of appends) {
        if (lost.has(streamId)) {
          again.push(pending); // another writer moved the stream first
          this.known.delete(streamId);
        } else {
          results[pending.index] = { ok: true, value: result };
        }
      }
      for (const envelope of stored) {
        const known = streams.get(envelope.streamId)!;
        this.known.set(envelope.streamId, {
          state: evolve(known.state, toDomainEvent(envelope)),
          version: envelope.streamVersion,
          createdAt: known.createdAt,
        });
      }
      if (stored.length > 0) this.committed(stored, (streamId) => streams.get(streamId)?.createdAt);
      undecided = again;
    }
    return results;
  }
}

/** The reply to a transition; a waiting token's deadlines come with it (the scheduler re-arms on them). */
function transitionResult(
  tokenId: string,
  state: TokenState,
  changed: boolean,
  heartbeatDeadline: Date | undefined,
): TokenTransitionResult {
  const result: TokenTransitionResult = { tokenId, status: state.status as TokenTransitionResult['status'], changed };
  if (state.status === 'WAITING') {
    result.timeoutAt = state.timeoutAt.toISOString();
    // A heartbeat token's deadline is only known when it was read for this command.
    if (state.heartbeatTimeoutMs === undefined || heartbeatDeadline !== undefined) {
      result.deadline = effectiveDeadline(state.timeoutAt, heartbeatDeadline).toISOString();
    }
  }
  return result;
}
