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
  data: { tokenId, environment: 'dev', output: '{"ok":true}', outputType: 'application/json', channel: 'api', completedAt: at(1000).toISOString() },
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
      given().when({
        type: 'CreateToken',
        tokenId,
        environment: 'dev',
        idempotencyKey: 'approve-42',
        idempotencyKeyTTLMs: 3_600_000,
        timeout: { afterMs: 600_000 },
        tags: ['moderation'],
        now: t0,
      }).then([
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
        { type: 'CreateToken', tokenId, environment: 'dev', idempotencyKeyTTLMs: 1, timeout: { at: '2026-02-01T00:00:00.000Z' }, tags: [], now: t0 },
        initialState,
      );
      expect(event.type === 'TokenCreated' && event.data.timeoutAt).toBe('2026-02-01T00:00:00.000Z');
    });

    it('decides nothing for a token that already exists', () => {
      given(created).when({ type: 'CreateToken', tokenId, environment: 'dev', idempotencyKeyTTLMs: 1, timeout: { afterMs: 1 }, tags: [], now: t0 }).then([]);
    });
  });

  describe('CompleteToken', () => {
    it('completes a waiting token with the output and the channel it came through', () => {
      given(created).when(complete({ channel: 'callback', environment: undefined })).then([
        {
          type: 'TokenCompleted',
          data: { tokenId, environment: 'dev', output: '{"approved":true}', outputType: 'application/json', channel: 'callback', completedAt: at(5000).toISOString() },
        },
      ]);
    });

    it('leaves the output out when the caller sent none', () => {
      const [event] = decide(complete({ output: undefined }), [created].reduce(evolve, initialState));
      expect(event.data).not.toHaveProperty('output');
    });

    it('is a no-op on a completed token: the first output stays', () => {
      given(created, completed).when(complete({ output: '"second"' })).then([]);
    });

    it('is a no-op on a timed-out token', () => {
      given(created, timedOutEvent).when(complete()).then([]);
    });

    it('does not find a token that does not exist', () => {
      given().when(complete()).thenFails(ErrorCode.TokenNotFound);
    });

    it("does not find another environment's token", () => {
      given(created).when(complete({ environment: 'prod' })).thenFails(ErrorCode.TokenNotFound);
    });
  });

  describe('TimeOutToken', () => {
    it('times out a waiting token at its deadline with the SDK timeout error as output', () => {
      given(created).when(timeOut(at(600_000))).then([
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
      given(created).when(timeOut(at(599_999))).then([]);
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
        given(created).when(forceOut(at(30_000), 'dev')).then([
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
        given(created, completed).when(forceOut(at(30_000), 'dev')).then([]);
      });

      it('is a no-op on a token that already timed out', () => {
        given(created, timedOutEvent).when(forceOut(at(700_000), 'dev')).then([]);
      });

      it('is a no-op on a cancelled token', () => {
        const cancelledEvent = decide(cancel(), [created].reduce(evolve, initialState))[0];
        given(created, cancelledEvent).when(forceOut(at(30_000), 'dev')).then([]);
      });

      it("does not find another environment's token", () => {
        given(created).when(forceOut(at(30_000), 'prod')).thenFails(ErrorCode.TokenNotFound);
      });

      it('leaves nothing for the scheduler when the deadline later arrives', () => {
        const [forced] = decide(forceOut(at(30_000), 'dev'), [created].reduce(evolve, initialState));
        given(created, forced).when(timeOut(at(600_000))).then([]);
      });

      it('makes a later completion a no-op: the forced timeout was the first writer', () => {
        const [forced] = decide(forceOut(at(30_000), 'dev'), [created].reduce(evolve, initialState));
        given(created, forced).when(complete({ now: at(31_000) })).then([]);
      });
    });

    it('is a no-op once the token was completed: exactly one terminal event', () => {
      given(created, completed).when(timeOut(at(600_000))).then([]);
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
});
