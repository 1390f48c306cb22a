import { RpcReply, TokenTransitionResult } from '@waitpoints/contracts';
import { RunningSystem, startSystem } from '../../../test/support/system';
import { RunningScheduler, eventually, startScheduler, tokenApi, withDatabase } from '../../../test/support/scheduler';
import type { TimeoutRequest, TimeoutSender } from './firing/timeout-sender';

/** Every timeout an instance sent, with the token-service's answer. */
class RecordingSender implements TimeoutSender {
  readonly answers: { tokenId: string; reply: RpcReply<TokenTransitionResult> }[] = [];

  constructor(private readonly real: TimeoutSender) {}

  async send(timeouts: TimeoutRequest[]) {
    const replies = await this.real.send(timeouts);
    timeouts.forEach(({ tokenId }, index) => this.answers.push({ tokenId, reply: replies[index] }));
    return replies;
  }

  tokensTimedOut(): string[] {
    return this.answers.filter((a) => a.reply.ok && a.reply.value.changed).map((a) => a.tokenId);
  }

  /** Fires that found the token already finished: what a double fire would look like. */
  tokensFoundFinished(): string[] {
    return this.answers.filter((a) => a.reply.ok && !a.reply.value.changed && a.reply.value.status !== 'WAITING').map((a) => a.tokenId);
  }
}

/** A token-service that never answers: the instance "dies" with its batch in flight. */
class SwallowingSender implements TimeoutSender {
  readonly swallowed = new Set<string>();

  send(timeouts: TimeoutRequest[]): Promise<RpcReply<TokenTransitionResult>[]> {
    timeouts.forEach((t) => this.swallowed.add(t.tokenId));
    return new Promise(() => undefined);
  }
}

const shortLeases = {
  SCHEDULER_LOOKAHEAD_MS: '500',
  SCHEDULER_POLL_INTERVAL_MS: '100',
  SCHEDULER_LEASE_MS: '1500',
};

describe('several scheduler instances', () => {
  let system: RunningSystem;
  const running: RunningScheduler[] = [];

  const timedOutEventsPerToken = (ids: string[]) =>
    withDatabase(system.databaseUrl, async (db) => {
      const { rows } = await db.query(
        `SELECT substr(stream_id, 7) AS id, count(*)::int AS n FROM es_events
          WHERE event_type = 'TokenTimedOut' AND stream_id = ANY($1) GROUP BY stream_id`,
        [ids.map((id) => `token-${id}`)],
      );
      return new Map(rows.map((r) => [r.id as string, r.n as number]));
    });

  const allTimedOut = (ids: string[], timeoutMs = 15_000) =>
    eventually(
      `all ${ids.length} tokens to time out`,
      async () => {
        const counts = await timedOutEventsPerToken(ids);
        return counts.size === ids.length ? counts : undefined;
      },
      timeoutMs,
    );

  const createTokens = async (count: number, firstDeadline: number, spacingMs: number) => {
    const api = tokenApi(system);
    const ids: string[] = [];
    for (let i = 0; i < count; i += 25) {
      const chunk = Array.from({ length: Math.min(25, count - i) }, (_, j) =>
        api.create({ timeout: new Date(firstDeadline + spacingMs * (i + j)).toISOString() }),
      );
      ids.push(...(await Promise.all(chunk)).map((t) => t.id.replace(/^waitpoint_/, '')));
    }
    return ids;
  };

  beforeAll(async () => {
    system = await startSystem();
  });

  afterEach(async () => {
    for (const instance of running.splice(0)) await instance.stop();
  });

  afterAll(async () => {
    await system?.stop();
  });

  it('share the timers and never fire one twice', async () => {
    const senders: RecordingSender[] = [];
    for (let i = 0; i < 2; i++) {
      running.push(
        await startScheduler(system, {
          env: { ...shortLeases, SCHEDULER_CLAIM_BATCH_SIZE: '20', SCHEDULER_MAX_HELD_TIMERS: '60' },
          overrides: { sender: (real) => senders[senders.push(new RecordingSender(real)) - 1] },
        }),
      );
    }
    const ids = await createTokens(300, Date.now() + 4_000, 5);

    const events = await allTimedOut(ids);

    expect([...events.values()].every((n) => n === 1)).toBe(true);
    const [first, second] = senders.map((s) => s.tokensTimedOut());
    expect(first.length).toBeGreaterThan(0);
    expect(second.length).toBeGreaterThan(0);
    expect(new Set([...first, ...second]).size).toBe(ids.length);
    expect(first.length + second.length).toBe(ids.length);
    expect(senders.flatMap((s) => s.tokensFoundFinished())).toEqual([]);
  });

  it('lose nothing when one dies with a batch in flight: another takes over when its leases run out', async () => {
    const dying = new SwallowingSender();
    const doomed = await startScheduler(system, { env: shortLeases, overrides: { sender: () => dying } });
    running.push(doomed);
    const ids = await createTokens(40, Date.now() + 1_500, 10);
    // Dies holding every timer: some sent and never answered, the rest leased in memory.
    await eventually('the doomed instance to hold every timer, with batches in flight', async () =>
      doomed.scheduler.gate.size === ids.length && dying.swallowed.size > 0 ? true : undefined,
    );
    await doomed.stop({ graceful: false });

    let survivorSender: RecordingSender | undefined;
    running.push(
      await startScheduler(system, {
        env: shortLeases,
        overrides: { sender: (real) => (survivorSender = new RecordingSender(real)) },
      }),
    );

    const events = await allTimedOut(ids);
    expect([...events.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(survivorSender!.tokensTimedOut())).toEqual(new Set(ids));
  });
});
