import {
  CANCELLED_ERROR_CODE,
  CancelTokenCommand,
  CompleteTokenCommand,
  CreateTokenCommand,
  ErrorCode,
  TIMEOUT_ERROR_CODE,
  TerminalTokenStatus,
  TimeoutTokenCommand,
  TokenCancelled,
  TokenCompleted,
  TokenCreated,
  TokenEvent,
  TokenTimedOut,
  WaitpointError,
  resolveTimeout,
  tokenNotFound,
} from '@waitpoints/contracts';

/**
 * The waitpoint token as a pure decider: no I/O, time comes in on the command.
 *
 * Invariant: a token leaves WAITING at most once. Every command aimed at a finished
 * token decides no events, so "first writer wins" holds as long as the event store
 * appends with the expected stream version (a lost race re-reads and decides again).
 */

export type TokenState =
  | { status: 'NONE' }
  | {
      status: 'WAITING' | TerminalTokenStatus;
      tokenId: string;
      environment: string;
      timeoutAt: Date;
    };

export const initialState: TokenState = { status: 'NONE' };

// ---- Commands, as the decider sees them: the contract's commands (already validated),
// without transport metadata, with the time they are decided at ----

type Decided<C> = Omit<C, 'metadata'> & { now: Date };

export type CreateToken = Decided<CreateTokenCommand> & { type: 'CreateToken'; tokenId: string };
/** `environment` undefined: the caller proved its right by other means (a callback URL hash). */
export type CompleteToken = Decided<Omit<CompleteTokenCommand, 'outputRef'>> & { type: 'CompleteToken' };
export type TimeOutToken = Decided<TimeoutTokenCommand> & { type: 'TimeOutToken'; force: boolean };
export type CancelToken = Decided<CancelTokenCommand> & { type: 'CancelToken' };

export type TokenCommand = CreateToken | CompleteToken | TimeOutToken | CancelToken;

export function evolve(state: TokenState, event: TokenEvent): TokenState {
  switch (event.type) {
    case 'TokenCreated':
      return {
        status: 'WAITING',
        tokenId: event.data.tokenId,
        environment: event.data.environment,
        timeoutAt: new Date(event.data.timeoutAt),
      };
    case 'TokenCompleted':
      return state.status === 'NONE' ? state : { ...state, status: 'COMPLETED' };
    case 'TokenTimedOut':
      return state.status === 'NONE' ? state : { ...state, status: 'TIMED_OUT' };
    case 'TokenCancelled':
      return state.status === 'NONE' ? state : { ...state, status: 'CANCELLED' };
  }
}

export function decide(command: TokenCommand, state: TokenState): TokenEvent[] {
  if (command.type === 'CreateToken') return decideCreate(command, state);

  // A token of another environment does not exist for this caller: same answer as unknown.
  if (
    state.status === 'NONE' ||
    (command.environment !== undefined && command.environment !== state.environment)
  ) {
    throw tokenNotFound(command.tokenId);
  }

  switch (command.type) {
    case 'CompleteToken':
      return state.status === 'WAITING' ? [completed(command, state.environment)] : [];
    case 'TimeOutToken':
      if (state.status !== 'WAITING') return [];
      // The scheduler may fire a hair early or twice; only a due (or forced) timeout counts.
      if (!command.force && command.now.getTime() < state.timeoutAt.getTime()) return [];
      return [timedOut(command, state.environment, state.timeoutAt)];
    case 'CancelToken':
      if (state.status === 'WAITING') return [cancelled(command, state.environment)];
      if (state.status === 'CANCELLED') return [];
      throw new WaitpointError(
        ErrorCode.TokenAlreadyFinished,
        `Waitpoint token ${command.tokenId} is already ${state.status} and cannot be cancelled`,
      );
  }
}

function decideCreate(command: CreateToken, state: TokenState): TokenEvent[] {
  if (state.status !== 'NONE') return [];
  const event: TokenCreated = {
    type: 'TokenCreated',
    data: {
      tokenId: command.tokenId,
      environment: command.environment,
      timeoutAt: resolveTimeout(command.timeout, command.now).toISOString(),
      tags: command.tags,
      createdAt: command.now.toISOString(),
    },
  };
  if (command.idempotencyKey !== undefined) {
    event.data.idempotencyKey = command.idempotencyKey;
    event.data.idempotencyKeyExpiresAt = new Date(
      command.now.getTime() + command.idempotencyKeyTTLMs,
    ).toISOString();
  }
  if (command.requestIdempotencyKey !== undefined) {
    event.data.requestIdempotencyKey = command.requestIdempotencyKey;
  }
  if (command.approval !== undefined) event.data.approval = command.approval;
  return [event];
}

function completed(command: CompleteToken, environment: string): TokenCompleted {
  const event: TokenCompleted = {
    type: 'TokenCompleted',
    data: {
      tokenId: command.tokenId,
      environment,
      outputType: command.outputType,
      channel: command.channel,
      completedAt: command.now.toISOString(),
    },
  };
  if (command.output !== undefined) event.data.output = command.output;
  return event;
}

function timedOut(command: TimeOutToken, environment: string, timeoutAt: Date): TokenTimedOut {
  const at = command.now.toISOString();
  return {
    type: 'TokenTimedOut',
    data: {
      tokenId: command.tokenId,
      environment,
      timeoutAt: timeoutAt.toISOString(),
      timedOutAt: at,
      output: JSON.stringify({ code: TIMEOUT_ERROR_CODE, message: `Waitpoint timed out at ${at}` }),
      forced: command.force,
    },
  };
}

function cancelled(command: CancelToken, environment: string): TokenCancelled {
  const at = command.now.toISOString();
  const message = command.reason
    ? `Waitpoint cancelled at ${at}: ${command.reason}`
    : `Waitpoint cancelled at ${at}`;
  const event: TokenCancelled = {
    type: 'TokenCancelled',
    data: {
      tokenId: command.tokenId,
      environment,
      cancelledAt: at,
      output: JSON.stringify({ code: CANCELLED_ERROR_CODE, message }),
    },
  };
  if (command.reason !== undefined) event.data.reason = command.reason;
  return event;
}

export const foldToken = (events: TokenEvent[]): TokenState => events.reduce(evolve, initialState);
