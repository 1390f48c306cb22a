import { RunningSystem, TEST_KEYS, startSystem } from '../../../test/support/system';
import { RunningScheduler, eventually, startScheduler, withDatabase } from '../../../test/support/scheduler';

/**
 * Deadlines that move, against real PostgreSQL, NATS/JetStream, token-service, gateway and
 * schedulers: an extension (an event) moves the timer, a heartbeat (not an event) is found by
 * the timer when it fires, and the timer is re-armed at the deadline the token-service answers.
 */
describe('deadlines that move', () => {
  let system: RunningSystem;

  beforeAll(async () => {
    system = await startSystem();
  });

  afterAll(async () => {
    await system?.stop();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${system.tokensUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${text}`);
    return JSON.parse(text);
  };
  const create = (body: object): Promise<{ id: string }> => call('POST', '', body);
  const retrieve = (id: string) => call('GET', `/${id}`);
  const timedOut = (id: string, timeoutMs = 15_000) =>
    eventually(
      `${id} to time out`,
      async () => {
        const token = await retrieve(id);
        return token.status === 'TIMED_OUT' ? token : undefined;
      },
      timeoutMs,
    );
  const eventsOf = (id: string) =>
    withDatabase(system.databaseUrl, async (db) => {
      const { rows } = await db.query(`SELECT event_type, data FROM es_events WHERE stream_id = $1 ORDER BY stream_version`, [
        `token-${id.replace(/^waitpoint_/, '')}`,
      ]);
      return rows as { event_type: string; data: Record<string, unknown> }[];
    });
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  describe('with two schedulers', () => {
    let a: RunningScheduler;
    let b: RunningScheduler;

    beforeAll(async () => {
      [a, b] = await Promise.all([startScheduler(system), startScheduler(system)]);
    });

    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
    });

    it('an extended token times out at its new deadline, never at the old one', async () => {
      const tokens = await Promise.all(Array.from({ length: 10 }, () => create({ timeout: '2s' })));
      // Leased into memory at once (look-ahead 2 s): the old deadline is held by one of the two.
      await sleep(500);
      const extended = await Promise.all(tokens.map(({ id }) => call('POST', `/${id}/extend`, { timeout: '4s' })));
      for (const token of tokens) {
        const finished = await timedOut(token.id);
        const newTimeoutAt = extended[tokens.indexOf(token)].timeoutAt;
        expect(finished.timeoutAt).toBe(newTimeoutAt);
        expect(Date.parse(finished.completedAt)).toBeGreaterThanOrEqual(Date.parse(newTimeoutAt));
        expect((await eventsOf(token.id)).map((e) => e.event_type)).toEqual(['TokenCreated', 'TokenDeadlineExtended', 'TokenTimedOut']);
      }
    });

    it('a timeout moved earlier fires at the earlier deadline', async () => {
      const { id } = await create({ timeout: '1h' });
      await sleep(200);
      const { timeoutAt } = await call('POST', `/${id}/extend`, { timeout: '2s' });
      const finished = await timedOut(id, 10_000);
      expect(finished.timeoutAt).toBe(timeoutAt);
      expect(Date.parse(finished.completedAt) - Date.parse(timeoutAt)).toBeLessThan(1_000);
    });

    it('heartbeats keep a token alive past its heartbeat timeout; it times out once they stop', async () => {
      const { id } = await create({ timeout: '1h', heartbeatTimeout: '2s' });
      const beats: string[] = [];
      for (let i = 0; i < 5; i++) {
        await sleep(1_000);
        beats.push((await call('POST', `/${id}/heartbeat`)).heartbeatDeadline);
      }
      // 5 s after creation, well past the first 2 s heartbeat deadline: still waiting.
      const alive = await retrieve(id);
      expect(alive.status).toBe('WAITING');
      expect(alive.heartbeatDeadline).toBe(beats[beats.length - 1]);
      const finished = await timedOut(id, 10_000);
      const lastDeadline = Date.parse(beats[beats.length - 1]);
      expect(Date.parse(finished.completedAt)).toBeGreaterThanOrEqual(lastDeadline);
      expect(Date.parse(finished.completedAt) - lastDeadline).toBeLessThan(1_000);
      expect((await eventsOf(id)).map((e) => e.event_type)).toEqual(['TokenCreated', 'TokenTimedOut']);
      expect(JSON.parse(finished.output).message).toMatch(/no heartbeat arrived before/);
    });

    it('keeps one timer row per heartbeat token however often it beats (heartbeats write no timers and no events)', async () => {
      const { id } = await create({ timeout: '1h', heartbeatTimeout: '1m' });
      const internal = id.replace(/^waitpoint_/, '');
      const counts = () =>
        withDatabase(system.databaseUrl, async (db) => {
          const timers = await db.query(`SELECT count(*)::int AS n FROM scheduler_timers WHERE token_id = $1`, [internal]);
          const events = await db.query(`SELECT count(*)::int AS n FROM es_events WHERE stream_id = $1`, [`token-${internal}`]);
          return { timers: timers.rows[0].n, events: events.rows[0].n };
        });
      await eventually('the timer to be learned', async () => ((await counts()).timers === 1 ? true : undefined));
      await Promise.all(Array.from({ length: 50 }, () => call('POST', `/${id}/heartbeat`)));
      await sleep(500); // anything the heartbeats wrongly published would be ingested by now
      expect(await counts()).toEqual({ timers: 1, events: 1 });
    });
  });

  it('a restarted scheduler fires at the extended deadline, not the one it learned first', async () => {
    let scheduler = await startScheduler(system);
    const { id } = await create({ timeout: '2s' });
    await eventually('the timer to be leased', () =>
      withDatabase(system.databaseUrl, async (db) => {
        const { rows } = await db.query(`SELECT lease_owner FROM scheduler_timers WHERE token_id = $1`, [id.replace(/^waitpoint_/, '')]);
        return rows[0]?.lease_owner ? true : undefined;
      }),
    );
    await scheduler.stop({ graceful: false });
    const { timeoutAt } = await call('POST', `/${id}/extend`, { timeout: '5s' });
    scheduler = await startScheduler(system);
    try {
      await sleep(2_500);
      expect((await retrieve(id)).status).toBe('WAITING');
      const finished = await timedOut(id, 10_000);
      expect(Date.parse(finished.completedAt)).toBeGreaterThanOrEqual(Date.parse(timeoutAt));
    } finally {
      await scheduler.stop();
    }
  });
});
