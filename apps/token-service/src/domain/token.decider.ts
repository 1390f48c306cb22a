import {
  CANCELLED_ERROR_CODE,
  CancelTokenCommand,
  CompleteTokenCommand,
  CreateTokenCommand,
  ErrorCode,
  ExtendTokenCommand,
  REJECTED_ERROR_CODE,
  RejectTokenCommand,
  TIMEOUT_ERROR_CODE,
  TerminalTokenStatus,
  TimeoutTokenCommand,
  TokenCancelled,
  TokenCompleted,
  TokenCreated,
  TokenDeadlineExtended,
  TokenEvent,
  TokenRejected,
  TokenTimedOut,
  WaitpointError,
  resolveTimeout,
  tokenNotFound,
} from '@waitpoints/contracts';

/**
 * The waitpoint token as a pure decider: no I/O, time comes in on the command.
 *
 * Invariant: a token leaves WAITING at most once. Every command aimed at a finished
 * token decides no events (or is refused), so "first writer wins" holds as long as the event
 * store appends with the expected stream version (a lost race re-reads and decides again).
 *
 * Heartbeats are not events: a heartbeat token's current heartbeat deadline lives on its read
 * row, and the commands that depend on it (timeout, extend) are given it as an input.
 */

export type TokenState =
  | { status: 'NONE' }
  | {
      status: 'WAITING' | TerminalTokenStatus;
      tokenId: string;
      environment: string;
      timeoutAt: Date;
      /** Set for heartbeat tokens. */
      heartbeatTimeoutMs?: number;
    };

export const initialState: TokenState = { status: 'NONE' };

// ---- Commands, as the decider sees them: the contract's commands (already validated),
// without transport metadata, with the time they are decided at ----

type Decided<C> = Omit<C, 'metadata'> & { now: Date };

export type CreateToken = Decided<CreateTokenCommand> & { type: 'CreateToken'; tokenId: string };
/** `environment` undefined: the caller proved its right by other means (a callback URL hash). */
export type CompleteToken = Decided<Omit<CompleteTokenCommand, 'outputRef'>> & { type: 'CompleteToken' };
/** Inputs read with the state: what the decider needs to know but no event records. */
export interface HeartbeatInput {
  /** The token's current heartbeat deadline; required for a heartbeat token. */
  heartbeatDeadline?: Date;
}
export type TimeOutToken = Decided<TimeoutTokenCommand> & HeartbeatInput & { type: 'TimeOutToken'; force: boolean };
export type CancelToken = Decided<CancelTokenCommand> & { type: 'CancelToken' };
export type RejectToken = Decided<RejectTokenCommand> & { type: 'RejectToken' };
export type ExtendDeadline = Decided<ExtendTokenCommand> & HeartbeatInput & { type: 'ExtendDeadline' };

export type TokenCommand = CreateToken | CompleteToken | TimeOutToken | CancelToken | RejectToken | ExtendDeadline;

/** Commands whose decision depends on the heartbeat deadline (given as HeartbeatInput). */
export const needsHeartbeatDeadline = (command: TokenCommand): command is TimeOutToken | ExtendDeadline =>
  command.type === 'TimeOutToken' || command.type === 'ExtendDeadline';

/**
 * When a waiting token times out if nothing else happens: its timeout, or its heartbeat
 * deadline when that comes first.
 */
export function effectiveDeadline(timeoutAt: Date, heartbeatDeadline: Date | undefined): Date {
  return heartbeatDeadline !== undefined && heartbeatDeadline.getTime() < timeoutAt.getTime() ? heartbeatDeadline : timeoutAt;
}

export function evolve(state: TokenState, event: TokenEvent): TokenState {
  switch (event.type) {
    case 'TokenCreated': {
      const created: TokenState = {
        status: 'WAITING',
        tokenId: event.data.tokenId,
        environment: event.data.environment,
        timeoutAt: new Date(event.data.timeoutAt),
      };
      if (event.data.heartbeatTimeoutMs !== undefined) created.heartbeatTimeoutMs = event.data.heartbeatTimeoutMs;
      return created;
    }
    case 'TokenDeadlineExtended':
      return state.status === 'WAITING' ? { ...state, timeoutAt: new Date(event.data.timeoutAt) } : state;
    case 'TokenCompleted':
      return state.status === 'NONE' ? state : { ...state, status: 'COMPLETED' };
    case 'TokenTimedOut':
      return state.status === 'NONE' ? state : { ...state, status: 'TIMED_OUT' };
    case 'TokenCancelled':
      return state.status === 'NONE' ? state : { ...state, status: 'CANCELLED' };
    case 'TokenRejected':
      return state.status === 'NONE' ? state : { ...state, status: 'REJECTED' };
  }
}

export function decide(command: TokenCommand, state: TokenState): TokenEvent[] {
  if (command.type === 'CreateToken') return decideCreate(command, state);

  // A token of another environment does not exist for this caller: same answer as unknown.
  if (state.status === 'NONE' || (command.environment !== undefined && command.environment !== state.environment)) {
    throw tokenNotFound(command.tokenId);
  }

  switch (command.type) {
    case 'CompleteToken':
      return state.status === 'WAITING' ? [completed(command, state.environment)] : [];
    case 'TimeOutToken': {
      if (state.status !== 'WAITING') return [];
      if (command.force) return [timedOut(command, state.environment, state.timeoutAt)];
      // The scheduler may fire a hair early, twice, or at a deadline that has moved since
      // (an extension, a heartbeat): only a timeout due now counts.
      const heartbeatDeadline = heartbeatDeadlineOf(command, state);
      const deadline = effectiveDeadline(state.timeoutAt, heartbeatDeadline);
      if (command.now.getTime() < deadline.getTime()) return [];
      return [timedOut(command, state.environment, state.timeoutAt, deadline === heartbeatDeadline ? heartbeatDeadline : undefined)];
    }
    case 'RejectToken':
      // Like a completion: a finished token is left as it is, and the caller is not told off.
      return state.status === 'WAITING' ? [rejected(command, state.environment)] : [];
    case 'ExtendDeadline': {
      if (state.status !== 'WAITING') {
        throw new WaitpointError(
          ErrorCode.TokenAlreadyFinished,
          `Waitpoint token ${command.tokenId} is already ${state.status}; its deadline can no longer move`,
        );
      }
      return [extended(command, state, heartbeatDeadlineOf(command, state))];
    }
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
    event.data.idempotencyKeyExpiresAt = new Date(command.now.getTime() + command.idempotencyKeyTTLMs).toISOString();
  }
  if (command.requestIdempotencyKey !== undefined) {
    event.data.requestIdempotencyKey = command.requestIdempotencyKey;
  }
  if (command.approval !== undefined) event.data.approval = command.approval;
  if (command.heartbeatTimeoutMs !== undefined) event.data.heartbeatTimeoutMs = command.heartbeatTimeoutMs;
  return [event];
}

/** A heartbeat token's deadline must come with the command: deciding without it could time out a live token. */
function heartbeatDeadlineOf(command: TimeOutToken | ExtendDeadline, state: Extract<TokenState, { tokenId: string }>): Date | undefined {
  if (state.heartbeatTimeoutMs === undefined) return undefined;
  if (command.heartbeatDeadline === undefined) {
    throw new Error(`${command.type} of heartbeat token ${command.tokenId} decided without its heartbeat deadline`);
  }
  return command.heartbeatDeadline;
}

function extended(
  command: ExtendDeadline,
  state: Extract<TokenState, { tokenId: string }>,
  heartbeatDeadline: Date | undefined,
): TokenDeadlineExtended {
  const timeoutAt = resolveTimeout(command.timeout, command.now);
  return {
    type: 'TokenDeadlineExtended',
    data: {
      tokenId: command.tokenId,
      environment: state.environment,
      timeoutAt: timeoutAt.toISOString(),
      previousTimeoutAt: state.timeoutAt.toISOString(),
      extendedAt: command.now.toISOString(),
      deadline: effectiveDeadline(timeoutAt, heartbeatDeadline).toISOString(),
    },
  };
}

function rejected(command: RejectToken, environment: string): TokenRejected {
  const error =
    command.error.code === undefined ? { message: command.error.message } : { message: command.error.message, code: command.error.code };
  return {
    type: 'TokenRejected',
    data: {
      tokenId: command.tokenId,
      environment,
      rejectedAt: command.now.toISOString(),
      error,
      output: JSON.stringify({ code: error.code ?? REJECTED_ERROR_CODE, message: error.message }),
      channel: command.channel,
    },
  };
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

function timedOut(command: TimeOutToken, environment: string, timeoutAt: Date, heartbeatDeadline?: Date): TokenTimedOut {
  const at = command.now.toISOString();
  const message =
    heartbeatDeadline === undefined
      ? `Waitpoint timed out at ${at}`
      : `Waitpoint timed out at ${at}: no heartbeat arrived before ${heartbeatDeadline.toISOString()}`;
  const event: TokenTimedOut = {
    type: 'TokenTimedOut',
    data: {
      tokenId: command.tokenId,
      environment,
      timeoutAt: timeoutAt.toISOString(),
      timedOutAt: at,
      output: JSON.stringify({ code: TIMEOUT_ERROR_CODE, message }),
      forced: command.force,
    },
  };
  if (heartbeatDeadline !== undefined) event.data.heartbeatDeadline = heartbeatDeadline.toISOString();
  return event;
}

function cancelled(command: CancelToken, environment: string): TokenCancelled {
  const at = command.now.toISOString();
  const message = command.reason ? `Waitpoint cancelled at ${at}: ${command.reason}` : `Waitpoint cancelled at ${at}`;
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
