import { ErrorCode, TokenEvent, WaitpointError } from '@waitpoints/contracts';
import { decide, evolve, initialState, TokenCommand } from './token.decider';

/** given(events).when(command) → then(events) | thenFails(code): the decider as a specification. */
function given(...history: TokenEvent[]) {
  const state = history.reduce(evolve, initialState);
  return {
    when: (command: TokenCommand) => ({
      then: (expected: TokenEvent[]) => expect(decide(command, state)).toEqual(expected),
      thenFails: (code: string) => {
        let failure: unknown;
        try {
          decide(command, state);
        } catch (error) {
          failure = error;
        }
        expect(failure).toBeInstanceOf(WaitpointError);
        expect((failure as WaitpointError).code).toBe(code);
      },
    }),
  };
}

const t0 = new Date('2026-01-01T10:00:00.000Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const tokenId = '01jd0000000000000000000000';

const created: TokenEvent = {
  type: 'TokenCreated',
  data: {
    tokenId,
    environment: 'dev',
    timeoutAt: at(600_000).toISOString(),
    tags: ['moderation'],
    createdAt: t0.toISOString(),
  },
};
const completed: TokenEvent = {
  type: 'TokenCompleted',
  data: {
    tokenId,
    environment: 'dev',
    output: '{"ok":true}',
    outputType: 'application/json',
    channel: 'api',
    completedAt: at(1000).toISOString(),
  },
};
const timedOutEvent: TokenEvent = {
  type: 'TokenTimedOut',
  data: {
    tokenId,
    environment: 'dev',
    timeoutAt: at(600_000).toISOString(),
    timedOutAt: at(600_000).toISOString(),
    output: '{}',
    forced: false,
  },
};

const complete = (overrides: Partial<Extract<TokenCommand, { type: 'CompleteToken' }>> = {}): TokenCommand => ({
  type: 'CompleteToken',
  tokenId,
  environment: 'dev',
  output: '{"approved":true}',
  outputType: 'application/json',
  channel: 'api',
  now: at(5000),
  ...overrides,
});
const timeOut = (now: Date, force = false): TokenCommand => ({ type: 'TimeOutToken', tokenId, force, now });
const cancel = (now = at(2000)): TokenCommand => ({ type: 'CancelToken', tokenId, environment: 'dev', now });

describe('token decider', () => {
  describe('CreateToken', () => {
    it('creates a waiting token whose deadline is the timeout after now', () => {
      given()
        .when({
          type: 'CreateToken',
          tokenId,
          environment: 'dev',
          idempotencyKey: 'approve-42',
          idempotencyKeyTTLMs: 3_600_000,
          timeout: { afterMs: 600_000 },
          tags: ['moderation'],
          now: t0,
        })
        .then([
          {
            type: 'TokenCreated',
            data: {
              tokenId,
              environment: 'dev',
              idempotencyKey: 'approve-42',
              idempotencyKeyExpiresAt: at(3_600_000).toISOString(),
              timeoutAt: at(600_000).toISOString(),
              tags: ['moderation'],
              createdAt: t0.toISOString(),
            },
          },
        ]);
    });

    it('takes an absolute timeout as given', () => {
      const [event] = decide(
        {
          type: 'CreateToken',
          tokenId,
          environment: 'dev',
          idempotencyKeyTTLMs: 1,
          timeout: { at: '2026-02-01T00:00:00.000Z' },
          tags: [],
          now: t0,
        },
        initialState,
      );
      expect(event.type === 'TokenCreated' && event.data.timeoutAt).toBe('2026-02-01T00:00:00.000Z');
    });

    it('decides nothing for a token that already exists', () => {
      given(created)
        .when({ type: 'CreateToken', tokenId, environment: 'dev', idempotencyKeyTTLMs: 1, timeout: { afterMs: 1 }, tags: [], now: t0 })
        .then([]);
    });
  });

  describe('CompleteToken', () => {
    it('completes a waiting token with the output and the channel it came through', () => {
      given(created)
        .when(complete({ channel: 'callback', environment: undefined }))
        .then([
          {
            type: 'TokenCompleted',
            data: {
              tokenId,
              environment: 'dev',
              output: '{"approved":true}',
              outputType: 'application/json',
              channel: 'callback',
              completedAt: at(5000).toISOString(),
            },
          },
        ]);
    });

    it('leaves the output out when the caller sent none', () => {
      const [event] = decide(complete({ output: undefined }), [created].reduce(evolve, initialState));
      expect(event.data).not.toHaveProperty('output');
    });

    it('is a no-op on a completed token: the first output stays', () => {
      given(created, completed)
        .when(complete({ output: '"second"' }))
        .then([]);
    });

    it('is a no-op on a timed-out token', () => {
      given(created, timedOutEvent).when(complete()).then([]);
    });

    it('does not find a token that does not exist', () => {
      given().when(complete()).thenFails(ErrorCode.TokenNotFound);
    });

    it("does not find another environment's token", () => {
      given(created)
        .when(complete({ environment: 'prod' }))
        .thenFails(ErrorCode.TokenNotFound);
    });
  });

  describe('TimeOutToken', () => {
    it('times out a waiting token at its deadline with the SDK timeout error as output', () => {
      given(created)
        .when(timeOut(at(600_000)))
        .then([
          {
            type: 'TokenTimedOut',
            data: {
              tokenId,
              environment: 'dev',
              timeoutAt: at(600_000).toISOString(),
              timedOutAt: at(600_000).toISOString(),
              output: JSON.stringify({
                code: 'TRIGGER_WAITPOINT_TIMEOUT',
                message: `Waitpoint timed out at ${at(600_000).toISOString()}`,
              }),
              forced: false,
            },
          },
        ]);
    });

    it('ignores a timeout that arrives before the deadline', () => {
      given(created)
        .when(timeOut(at(599_999)))
        .then([]);
    });

    it('times out early when forced by an operator', () => {
      const [event] = decide(timeOut(at(10), true), [created].reduce(evolve, initialState));
      expect(event).toMatchObject({ type: 'TokenTimedOut', data: { forced: true } });
    });

    describe('forced ("time out now" from the dashboard)', () => {
      const forceOut = (now: Date, environment?: string): TokenCommand => ({
        type: 'TimeOutToken',
        tokenId,
        environment,
        force: true,
        now,
      });

      it('records when it was forced, the deadline it pre-empted, and that it was forced', () => {
        given(created)
          .when(forceOut(at(30_000), 'dev'))
          .then([
            {
              type: 'TokenTimedOut',
              data: {
                tokenId,
                environment: 'dev',
                timeoutAt: at(600_000).toISOString(),
                timedOutAt: at(30_000).toISOString(),
                output: JSON.stringify({
                  code: 'TRIGGER_WAITPOINT_TIMEOUT',
                  message: `Waitpoint timed out at ${at(30_000).toISOString()}`,
                }),
                forced: true,
              },
            },
          ]);
      });

      it('still needs a waiting token: a completed one keeps its single terminal event', () => {
        given(created, completed)
          .when(forceOut(at(30_000), 'dev'))
          .then([]);
      });

      it('is a no-op on a token that already timed out', () => {
        given(created, timedOutEvent)
          .when(forceOut(at(700_000), 'dev'))
          .then([]);
      });

      it('is a no-op on a cancelled token', () => {
        const cancelledEvent = decide(cancel(), [created].reduce(evolve, initialState))[0];
        given(created, cancelledEvent)
          .when(forceOut(at(30_000), 'dev'))
          .then([]);
      });

      it("does not find another environment's token", () => {
        given(created)
          .when(forceOut(at(30_000), 'prod'))
          .thenFails(ErrorCode.TokenNotFound);
      });

      it('leaves nothing for the scheduler when the deadline later arrives', () => {
        const [forced] = decide(forceOut(at(30_000), 'dev'), [created].reduce(evolve, initialState));
        given(created, forced)
          .when(timeOut(at(600_000)))
          .then([]);
      });

      it('makes a later completion a no-op: the forced timeout was the first writer', () => {
        const [forced] = decide(forceOut(at(30_000), 'dev'), [created].reduce(evolve, initialState));
        given(created, forced)
          .when(complete({ now: at(31_000) }))
          .then([]);
      });
    });

    it('is a no-op once the token was completed: exactly one terminal event', () => {
      given(created, completed)
        .when(timeOut(at(600_000)))
        .then([]);
    });
  });

  describe('CancelToken', () => {
    it('cancels a waiting token; waiters receive an error', () => {
      const [event] = decide(cancel(), [created].reduce(evolve, initialState));
      expect(event).toMatchObject({ type: 'TokenCancelled', data: { tokenId, cancelledAt: at(2000).toISOString() } });
      expect(JSON.parse((event as Extract<TokenEvent, { type: 'TokenCancelled' }>).data.output)).toMatchObject({
        code: 'WAITPOINT_CANCELLED',
      });
    });

    it('is idempotent on a cancelled token', () => {
      const cancelledEvent = decide(cancel(), [created].reduce(evolve, initialState))[0];
      given(created, cancelledEvent).when(cancel()).then([]);
    });

    it('refuses to cancel a completed token', () => {
      given(created, completed).when(cancel()).thenFails(ErrorCode.TokenAlreadyFinished);
    });
  });

  describe('RejectToken', () => {
    const reject = (overrides: Partial<Extract<TokenCommand, { type: 'RejectToken' }>> = {}): TokenCommand => ({
      type: 'RejectToken',
      tokenId,
      environment: 'dev',
      error: { message: 'Refused by a moderator', code: 'MODERATION_REFUSED' },
      channel: 'api',
      now: at(3000),
      ...overrides,
    });

    it("ends a waiting token with the caller's error as its output", () => {
      given(created)
        .when(reject())
        .then([
          {
            type: 'TokenRejected',
            data: {
              tokenId,
              environment: 'dev',
              rejectedAt: at(3000).toISOString(),
              error: { message: 'Refused by a moderator', code: 'MODERATION_REFUSED' },
              output: JSON.stringify({ code: 'MODERATION_REFUSED', message: 'Refused by a moderator' }),
              channel: 'api',
            },
          },
        ]);
    });

    it('gives the error the code WAITPOINT_REJECTED when the caller gave none', () => {
      const [event] = decide(reject({ error: { message: 'no' } }), [created].reduce(evolve, initialState));
      expect(event).toMatchObject({
        data: { error: { message: 'no' }, output: JSON.stringify({ code: 'WAITPOINT_REJECTED', message: 'no' }) },
      });
      expect((event.data as { error: object }).error).not.toHaveProperty('code');
    });

    it('leaves a token REJECTED', () => {
      const [event] = decide(reject(), [created].reduce(evolve, initialState));
      expect([created, event].reduce(evolve, initialState).status).toBe('REJECTED');
    });

    it('is a no-op on a finished token, like a completion: the first terminal event stands', () => {
      given(created, completed).when(reject()).then([]);
      given(created, timedOutEvent).when(reject()).then([]);
      const rejectedEvent = decide(reject(), [created].reduce(evolve, initialState))[0];
      given(created, rejectedEvent)
        .when(reject({ error: { message: 'again' } }))
        .then([]);
    });

    it('makes every later terminal command a no-op', () => {
      const rejectedEvent = decide(reject(), [created].reduce(evolve, initialState))[0];
      given(created, rejectedEvent).when(complete()).then([]);
      given(created, rejectedEvent)
        .when(timeOut(at(600_000)))
        .then([]);
      given(created, rejectedEvent)
        .when(timeOut(at(5000), true))
        .then([]);
      given(created, rejectedEvent).when(cancel()).thenFails(ErrorCode.TokenAlreadyFinished);
    });

    it("does not find another environment's token, nor an unknown one", () => {
      given(created)
        .when(reject({ environment: 'prod' }))
        .thenFails(ErrorCode.TokenNotFound);
      given().when(reject()).thenFails(ErrorCode.TokenNotFound);
    });
  });

  describe('ExtendDeadline', () => {
    const extend = (timeout: { afterMs: number } | { at: string }, now = at(60_000), heartbeatDeadline?: Date): TokenCommand => ({
      type: 'ExtendDeadline',
      tokenId,
      environment: 'dev',
      timeout,
      heartbeatDeadline,
      now,
    });
    const extendedTo = (timeoutAt: Date, now = at(60_000)) =>
      decide(extend({ at: timeoutAt.toISOString() }, now), [created].reduce(evolve, initialState))[0];

    it('moves the timeout to the duration after now and records the one it replaced', () => {
      given(created)
        .when(extend({ afterMs: 3_600_000 }))
        .then([
          {
            type: 'TokenDeadlineExtended',
            data: {
              tokenId,
              environment: 'dev',
              timeoutAt: at(60_000 + 3_600_000).toISOString(),
              previousTimeoutAt: at(600_000).toISOString(),
              extendedAt: at(60_000).toISOString(),
              deadline: at(60_000 + 3_600_000).toISOString(),
            },
          },
        ]);
    });

    it('takes an absolute date, earlier than the current timeout too', () => {
      const [event] = decide(extend({ at: at(120_000).toISOString() }), [created].reduce(evolve, initialState));
      expect(event.data).toMatchObject({ timeoutAt: at(120_000).toISOString(), previousTimeoutAt: at(600_000).toISOString() });
    });

    it('makes a timeout at the old deadline not due, and one at the new deadline due', () => {
      const moved = extendedTo(at(900_000));
      given(created, moved)
        .when(timeOut(at(600_000)))
        .then([]);
      const [event] = decide(timeOut(at(900_000)), [created, moved].reduce(evolve, initialState));
      expect(event).toMatchObject({ type: 'TokenTimedOut', data: { timeoutAt: at(900_000).toISOString() } });
    });

    it('can move the timeout several times: the last one counts', () => {
      const first = extendedTo(at(900_000));
      const second = decide(extend({ at: at(700_000).toISOString() }, at(100_000)), [created, first].reduce(evolve, initialState))[0];
      given(created, first, second)
        .when(timeOut(at(800_000)))
        .then([expect.objectContaining({ type: 'TokenTimedOut' }) as unknown as TokenEvent]);
    });

    it('refuses to move the deadline of a finished token (409 with its status)', () => {
      given(created, completed)
        .when(extend({ afterMs: 1000 }))
        .thenFails(ErrorCode.TokenAlreadyFinished);
      given(created, timedOutEvent)
        .when(extend({ afterMs: 1000 }))
        .thenFails(ErrorCode.TokenAlreadyFinished);
      expect(() => decide(extend({ afterMs: 1000 }), [created, completed].reduce(evolve, initialState))).toThrow(/already COMPLETED/);
    });

    it("does not find another environment's token", () => {
      given(created)
        .when({ ...(extend({ afterMs: 1000 }) as object), environment: 'prod' } as TokenCommand)
        .thenFails(ErrorCode.TokenNotFound);
    });
  });

  describe('heartbeat tokens (the heartbeat deadline is an input, never an event)', () => {
    const heartbeatCreated: TokenEvent = {
      type: 'TokenCreated',
      data: { ...(created.data as Extract<TokenEvent, { type: 'TokenCreated' }>['data']), heartbeatTimeoutMs: 30_000 },
    };
    const timeOutWith = (now: Date, heartbeatDeadline?: Date): TokenCommand => ({
      type: 'TimeOutToken',
      tokenId,
      force: false,
      now,
      heartbeatDeadline,
    });

    it('times out at the heartbeat deadline when no heartbeat moved it, saying so', () => {
      const [event] = decide(timeOutWith(at(30_000), at(30_000)), [heartbeatCreated].reduce(evolve, initialState));
      expect(event).toMatchObject({
        type: 'TokenTimedOut',
        data: { timedOutAt: at(30_000).toISOString(), heartbeatDeadline: at(30_000).toISOString(), timeoutAt: at(600_000).toISOString() },
      });
      expect(JSON.parse((event.data as { output: string }).output)).toEqual({
        code: 'TRIGGER_WAITPOINT_TIMEOUT',
        message: `Waitpoint timed out at ${at(30_000).toISOString()}: no heartbeat arrived before ${at(30_000).toISOString()}`,
      });
    });

    it('is not due while a heartbeat has moved the deadline past now', () => {
      given(heartbeatCreated)
        .when(timeOutWith(at(30_000), at(55_000)))
        .then([]);
    });

    it('still times out at its timeout however often heartbeats come', () => {
      const [event] = decide(timeOutWith(at(600_000), at(620_000)), [heartbeatCreated].reduce(evolve, initialState));
      expect(event).toMatchObject({ type: 'TokenTimedOut', data: { timedOutAt: at(600_000).toISOString() } });
      expect(event.data).not.toHaveProperty('heartbeatDeadline');
    });

    it("refuses to decide a heartbeat token's timeout without its heartbeat deadline", () => {
      expect(() => decide(timeOutWith(at(30_000)), [heartbeatCreated].reduce(evolve, initialState))).toThrow(
        /without its heartbeat deadline/,
      );
    });

    it('a forced timeout needs no heartbeat deadline', () => {
      expect(decide(timeOut(at(1000), true), [heartbeatCreated].reduce(evolve, initialState))).toHaveLength(1);
    });

    it('an extension records the deadline the scheduler must arm: the earlier of timeout and heartbeat deadline', () => {
      const [event] = decide(
        {
          type: 'ExtendDeadline',
          tokenId,
          environment: 'dev',
          timeout: { afterMs: 3_600_000 },
          heartbeatDeadline: at(40_000),
          now: at(20_000),
        },
        [heartbeatCreated].reduce(evolve, initialState),
      );
      expect(event.data).toMatchObject({ timeoutAt: at(3_620_000).toISOString(), deadline: at(40_000).toISOString() });
    });
  });
});
