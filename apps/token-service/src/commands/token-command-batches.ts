import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import {
  CreateTokenCommand,
  CreateTokenResult,
  MessageMetadata,
  TokenCreated,
  TokenTransitionResult,
  tokenStreamId,
} from '@waitpoints/contracts';
import { decide, evolve, foldToken, initialState, TokenCommand } from '../domain/token.decider';
import { toDomainEvent, toEnvelope } from '../event-store/event-store';
import { TokenRow, toTokenView } from '../projections/token-queries';
import {
  appendTerminalEventsStatement,
  createTokensStatement,
  NewToken,
  readStreamsStatement,
  TerminalAppend,
} from './batch-statements';
import { Clock, TokenIdGenerator } from './clock';
import { CommandBatcher, Settled } from './command-batcher';

export interface CommandBatchingOptions {
  /** Most commands written by one statement; 0 writes each command in its own transaction. */
  maxBatchSize: number;
  /** Batch statements running at once per token-service process. */
  maxInFlight: number;
}

/** A complete, cancel or timeout: which token, and the decider command it turns into at a given time. */
export interface TransitionRequest {
  tokenId: string;
  metadata: MessageMetadata;
  toCommand: (now: Date) => TokenCommand;
}

/** The one-command-per-transaction paths, for whatever a batch cannot take. */
export interface OneAtATime {
  create(command: CreateTokenCommand): Promise<CreateTokenResult>;
  transition(request: TransitionRequest): Promise<TokenTransitionResult>;
}

const MAX_ATTEMPTS = 5;

/**
 * Creates and transitions of many concurrent commands, written together: one statement
 * appends every command's event and projects it (see batch-statements.ts), so a batch
 * costs one commit and one or two round trips instead of four or five per command.
 *
 * Semantics stay those of one command at a time:
 * - each command is decided on its own by the decider, and answered on its own;
 * - a transition that loses a race (its stream moved) is re-read and decided again, so the
 *   first writer still wins and the one-terminal-event invariant holds;
 * - a statement PostgreSQL refuses (say, one command's output is not storable) is retried
 *   one command at a time on the ordinary path, so one bad command fails alone.
 */
/** What the metrics need of a stored event. */
export interface CommittedEvent {
  streamId: string;
  type: string;
  data: unknown;
}

export class TokenCommandBatches {
  private readonly creates: CommandBatcher<CreateTokenCommand, CreateTokenResult>;
  private readonly transitions: CommandBatcher<TransitionRequest, TokenTransitionResult>;

  constructor(
    private readonly pool: Pool,
    private readonly clock: Clock,
    private readonly ids: TokenIdGenerator,
    private readonly oneAtATime: OneAtATime,
    /** Called after events were stored: wakes the outbox relay, counts them in the metrics. */
    private readonly onAppended: (stored: CommittedEvent[], createdAtOf: (streamId: string) => string | undefined) => void,
    options: CommandBatchingOptions,
    private readonly newEventId: () => string = randomUUID,
  ) {
    const batcherOptions = { maxBatchSize: options.maxBatchSize, maxInFlight: options.maxInFlight };
    this.creates = new CommandBatcher((batch) => this.createMany(batch), batcherOptions);
    this.transitions = new CommandBatcher((batch) => this.transitionMany(batch), batcherOptions);
  }

  create(command: CreateTokenCommand): Promise<CreateTokenResult> {
    return this.creates.submit(command);
  }

  transition(request: TransitionRequest): Promise<TokenTransitionResult> {
    return this.transitions.submit(request);
  }

  private async createMany(commands: CreateTokenCommand[]): Promise<Settled<CreateTokenResult>[]> {
    const results: Settled<CreateTokenResult>[] = new Array(commands.length);
    const now = this.clock.now();
    const tokens: (NewToken & { index: number })[] = [];
    commands.forEach((command, index) => {
      try {
        const [event] = decide(
          {
            type: 'CreateToken',
            tokenId: this.ids.next(),
            environment: command.environment,
            idempotencyKeyTTLMs: command.idempotencyKeyTTLMs,
            timeout: command.timeout,
            tags: command.tags,
            requestIdempotencyKey: command.requestIdempotencyKey,
            now,
          },
          initialState,
        );
        tokens.push({ index, eventId: this.newEventId(), event: event as TokenCreated, metadata: command.metadata });
      } catch (error) {
        results[index] = { ok: false, error };
      }
    });
    if (tokens.length === 0) return results;
    try {
      const { rows } = await this.pool.query<TokenRow>(createTokensStatement(tokens));
      const byId = new Map(rows.map((row) => [row.id, toTokenView(row)]));
      for (const { index, event } of tokens) {
        const token = byId.get(event.data.tokenId);
        results[index] = token
          ? { ok: true, value: { token, isCached: false } }
          : { ok: false, error: new Error(`token ${event.data.tokenId} was not stored`) };
      }
      this.onAppended(
        tokens.map(({ event }) => ({ streamId: tokenStreamId(event.data.tokenId), type: event.type, data: event.data })),
        () => undefined,
      );
    } catch (error) {
      if (!isRefusedStatement(error)) throw error;
      await Promise.all(tokens.map(async ({ index }) => (results[index] = await settle(this.oneAtATime.create(commands[index])))));
    }
    return results;
  }

  private async transitionMany(requests: TransitionRequest[]): Promise<Settled<TokenTransitionResult>[]> {
    const results: Settled<TokenTransitionResult>[] = new Array(requests.length);
    let undecided = requests.map((request, index) => ({ request, index, streamId: tokenStreamId(request.tokenId) }));
    for (let attempt = 1; undecided.length > 0; attempt++) {
      if (attempt > MAX_ATTEMPTS) {
        const error = new Error(`transitions kept losing races after ${MAX_ATTEMPTS} attempts`);
        for (const { index } of undecided) results[index] = { ok: false, error };
        break;
      }
      try {
        undecided = await this.decideAndAppend(undecided, results);
      } catch (error) {
        if (!isRefusedStatement(error)) throw error;
        await Promise.all(
          undecided.map(async ({ request, index }) => (results[index] = await settle(this.oneAtATime.transition(request)))),
        );
        break;
      }
    }
    return results;
  }

  /** One round: read, decide, append. Answers what it can and returns what must be decided again. */
  private async decideAndAppend<T extends { request: TransitionRequest; index: number; streamId: string }>(
    undecided: T[],
    results: Settled<TokenTransitionResult>[],
  ): Promise<T[]> {
    const { rows } = await this.pool.query(readStreamsStatement([...new Set(undecided.map((u) => u.streamId))]));
    const streams = new Map<string, { events: ReturnType<typeof toDomainEvent>[]; version: number }>();
    for (const envelope of rows.map(toEnvelope)) {
      const stream = streams.get(envelope.streamId) ?? { events: [], version: 0 };
      stream.events.push(toDomainEvent(envelope));
      stream.version = envelope.streamVersion;
      streams.set(envelope.streamId, stream);
    }
    const now = this.clock.now();
    const appends = new Map<string, { append: TerminalAppend; pending: T; result: TokenTransitionResult }>();
    const again: T[] = [];
    for (const pending of undecided) {
      const { request, index, streamId } = pending;
      const { events, version } = streams.get(streamId) ?? { events: [], version: 0 };
      const state = foldToken(events);
      let decided;
      try {
        decided = decide(request.toCommand(now), state);
      } catch (error) {
        results[index] = { ok: false, error };
        continue;
      }
      const status = decided.reduce(evolve, state).status as TokenTransitionResult['status'];
      if (decided.length === 0) {
        results[index] = { ok: true, value: { tokenId: request.tokenId, status, changed: false } };
      } else if (appends.has(streamId)) {
        // The same token twice in one batch: decided again once the first one is stored.
        again.push(pending);
      } else {
        const [event] = decided;
        if (decided.length !== 1 || event.type === 'TokenCreated') throw new Error(`a transition decided ${decided.length} events`);
        appends.set(streamId, {
          append: { streamId, expectedVersion: version, eventId: this.newEventId(), event, metadata: request.metadata },
          pending,
          result: { tokenId: request.tokenId, status, changed: true },
        });
      }
    }
    if (appends.size === 0) return again;
    const appended = await this.pool.query<{ stream_id: string }>(
      appendTerminalEventsStatement([...appends.values()].map((a) => a.append)),
    );
    const won = new Set(appended.rows.map((row) => row.stream_id));
    if (won.size > 0) {
      const stored = [...appends.values()]
        .filter(({ append }) => won.has(append.streamId))
        .map(({ append }) => ({ streamId: append.streamId, type: append.event.type, data: append.event.data }));
      const createdAtOf = (streamId: string) =>
        (streams.get(streamId)?.events[0]?.data as { createdAt?: string } | undefined)?.createdAt;
      this.onAppended(stored, createdAtOf);
    }
    for (const [streamId, { pending, result }] of appends) {
      if (won.has(streamId)) results[pending.index] = { ok: true, value: result };
      else again.push(pending); // another writer moved the stream first: re-read, decide again
    }
    return again;
  }
}

async function settle<R>(work: Promise<R>): Promise<Settled<R>> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * PostgreSQL answered the statement with an error (it has an SQLSTATE), so nothing of it was
 * committed and each command can safely be tried again on its own. Anything else (a dropped
 * connection) leaves the outcome unknown, and the batch fails as one command would.
 */
function isRefusedStatement(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}
