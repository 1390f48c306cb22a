import { ErrorCode } from '@waitpoints/contracts';
import type { TokenCommandHandler } from '../commands/token-command-handler';
import type { JetStreamPublisher } from '../outbox/jetstream-publisher';
import type { StoredEventsReader } from '../outbox/stored-events';
import type { TokenInsights } from '../projections/token-insights';
import type { TokenReadService } from '../projections/token-read.service';
import { TokenMessagesController } from './token-messages.controller';

describe('TokenMessagesController replies', () => {
  const controllerFailingWith = (error: unknown) =>
    new TokenMessagesController(
      { create: () => Promise.reject(error) } as unknown as TokenCommandHandler,
      {} as TokenReadService,
      {} as TokenInsights,
      {} as JetStreamPublisher,
      {} as StoredEventsReader,
    );
  const create = (controller: TokenMessagesController) => controller.create({} as never);

  it('tells the caller to try again when PostgreSQL is unreachable', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(await create(controllerFailingWith(refused))).toEqual({
      ok: false,
      error: { code: ErrorCode.ServiceUnavailable, message: 'The token store (PostgreSQL) is unavailable; try again shortly' },
    });
  });

  it('answers a statement cancelled by its timeout (57014) as unavailable, asking to narrow the filters', async () => {
    const cancelled = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
    const controller = new TokenMessagesController(
      {} as TokenCommandHandler,
      { list: () => Promise.reject(cancelled) } as unknown as TokenReadService,
      {} as TokenInsights,
      {} as JetStreamPublisher,
      {} as StoredEventsReader,
    );
    expect(await controller.list({} as never)).toEqual({
      ok: false,
      error: {
        code: ErrorCode.ServiceUnavailable,
        message: 'The query took too long and was stopped; narrow the filters (status, tag, period) and try again',
      },
    });
  });

  it('still reports a bug as an internal error', async () => {
    const reply = await create(controllerFailingWith(new TypeError('oops')));
    expect(reply).toEqual({ ok: false, error: { code: ErrorCode.Internal, message: expect.any(String) } });
  });
});
