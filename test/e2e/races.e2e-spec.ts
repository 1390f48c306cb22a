/**
 * Three writers race for every token: an API completion, a callback completion and the
 * scheduler's timeout, all sent at the same moment, after the token's deadline has passed.
 * Whoever wins, the token must end with exactly one terminal event, the stored state must be
 * the winner's, and every stored event must reach JetStream once.
 *
 * `npm test` races RACE_TOKENS tokens (1,000 by default); `npm run test:races` races 10,000.
 * The timeouts are sent exactly as the scheduler sends them, half as `cmd.token.timeout-batch`
 * (one request for a group of tokens) and half as single `cmd.token.timeout` requests.
 */
import { firstValueFrom, timeout } from 'rxjs';
import {
  RpcReply,
  TimeoutTokenCommand,
  TimeoutTokensCommand,
  TimeoutTokensResult,
  TokenCommandSubjects,
  TokenTransitionResult,
} from '@waitpoints/contracts';
import { PrefixedNatsClient } from '@waitpoints/contracts/nats/prefixed-transport';
import { streamMessageCount, eventually } from '../support/jetstream';
import { withDatabase } from '../support/scheduler';
import { TEST_NATS_URL } from '../support/services';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

const TOKENS = Number(process.env.RACE_TOKENS ?? 1_000);
/** Tokens created, then raced, per wave: bounds how long a created token waits for its race. */
const WAVE = 500;
/** Tokens sharing one timeout-batch request (and raced together). */
const GROUP = 10;
/** Groups racing at once: GROUP × 3 requests each. */
const GROUPS_IN_FLIGHT = 6;
const CREATES_IN_FLIGHT = 32;
const TIMEOUT_JITTER_MS = 10;
/**
 * In the four-writer race, every fourth token's first writer (in the random order) goes out this
 * much before the others: a gateway may handle one kind of request a little faster than another,
 * and on a slow machine that alone decided every simultaneous race (the rejection never won in
 * 200). The other tokens' writers still all leave at once.
 */
const HEAD_START_MS = 5;
const TERMINAL_EVENTS = ['TokenCompleted', 'TokenTimedOut', 'TokenCancelled', 'TokenRejected'];

let system: RunningSystem;
let scheduler: PrefixedNatsClient;

beforeAll(async () => {
  system = await startSystem();
  scheduler = new PrefixedNatsClient(system.subjectPrefix, { servers: [TEST_NATS_URL] });
  await scheduler.connect();
});

afterAll(async () => {
  await scheduler?.close();
  await system?.stop();
});

interface RacedToken {
  /** Internal id (no `waitpoint_` prefix). */
  id: string;
  url: string;
  index: number;
  /** Did the timeout command report that it changed the token? */
  timeoutChanged?: boolean;
}

const apiOutput = (token: RacedToken) => ({ by: 'api', token: token.index });
const callbackOutput = (token: RacedToken) => ({ by: 'callback', token: token.index });

async function post(url: string, body: unknown, auth?: string): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth) headers.authorization = `Bearer ${auth}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

async function createToken(index: number): Promise<RacedToken> {
  const reply = await post(system.tokensUrl, { timeout: '1s', tags: ['race'] }, TEST_KEYS.dev);
  if (reply.status !== 200) throw new Error(`create answered ${reply.status} ${JSON.stringify(reply.body)}`);
  const { id, url } = reply.body as { id: string; url: string };
  return { id: id.replace(/^waitpoint_/, ''), url, index };
}

const metadata = (label: string) => ({ correlationId: `race:${label}`, actor: { type: 'scheduler' as const, id: 'race-spec' } });

async function sendTimeoutBatch(tokens: RacedToken[]): Promise<void> {
  const command: TimeoutTokensCommand = {
    timeouts: tokens.map((t) => ({ tokenId: t.id, environment: 'dev' })),
    metadata: metadata(tokens[0].id),
  };
  const reply = await firstValueFrom(
    scheduler.send<RpcReply<TimeoutTokensResult>>(TokenCommandSubjects.timeoutBatch, command).pipe(timeout(30_000)),
  );
  if (!reply.ok) throw new Error(`timeout-batch refused: ${reply.error.message}`);
  reply.value.results.forEach((result, i) => {
    if (!result.ok) throw new Error(`timeout of ${tokens[i].id} failed: ${result.error.message}`);
    tokens[i].timeoutChanged = result.value.changed;
  });
}

async function sendTimeout(token: RacedToken): Promise<void> {
  const command: TimeoutTokenCommand = { tokenId: token.id, environment: 'dev', metadata: metadata(token.id) };
  const reply = await firstValueFrom(
    scheduler.send<RpcReply<TokenTransitionResult>>(TokenCommandSubjects.timeout, command).pipe(timeout(30_000)),
  );
  if (!reply.ok) throw new Error(`timeout of ${token.id} failed: ${reply.error.message}`);
  token.timeoutChanged = reply.value.changed;
}

/** All three writers of every token in the group, sent in the same tick. */
async function race(group: RacedToken[], batchTimeout: boolean): Promise<void> {
  const completions = group.flatMap((token) => [
    post(`${system.tokensUrl}/${token.id}/complete`, { data: apiOutput(token) }, TEST_KEYS.dev),
    post(token.url, callbackOutput(token)),
  ]);
  // The timeout's path (NATS only) is shorter than HTTP's; a few ms of jitter lets every kind
  // of writer win often, so the losing paths of each one (incl. a batch's re-decide) all run.
  await new Promise((resolve) => setTimeout(resolve, Math.random() * TIMEOUT_JITTER_MS));
  const timeouts = batchTimeout ? [sendTimeoutBatch(group)] : group.map(sendTimeout);
  const [replies] = await Promise.all([Promise.all(completions), Promise.all(timeouts)]);
  for (const reply of replies) {
    // Losing a race is not an error: a completion of a finished token is a 200 no-op.
    if (reply.status !== 200) throw new Error(`completion answered ${reply.status} ${JSON.stringify(reply.body)}`);
  }
}

async function inPool<T, R>(items: T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

const chunks = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

interface Outcome {
  id: string;
  terminal_events: number;
  event_type: string | null;
  event_output: string | null;
  channel: string | null;
  status: string;
  output: string | null;
  completed_by: string | null;
}

describe(`${TOKENS} tokens, each raced by an API completion, a callback and its timeout`, () => {
  const tokens: RacedToken[] = [];
  let outcomes: Map<string, Outcome>;

  beforeAll(
    async () => {
      const started = Date.now();
      for (let first = 0; first < TOKENS; first += WAVE) {
        const indexes = Array.from({ length: Math.min(WAVE, TOKENS - first) }, (_, i) => first + i);
        const wave = await inPool(indexes, CREATES_IN_FLIGHT, createToken);
        // Every deadline of the wave has passed (1 s after its create answered, at the latest).
        await new Promise((resolve) => setTimeout(resolve, 1_050));
        await inPool(chunks(wave, GROUP), GROUPS_IN_FLIGHT, (group, i) => race(group, i % 2 === 0));
        tokens.push(...wave);
      }
      const { rows } = await withDatabase(system.databaseUrl, (db) =>
        db.query<Outcome>(
          `SELECT t.id, t.status, t.output, t.completed_by,
                count(e.event_id)::int AS terminal_events,
                min(e.event_type) AS event_type,
                min(coalesce(e.data->>'output', '')) AS event_output,
                min(e.data->>'channel') AS channel
           FROM waitpoint_tokens t
           LEFT JOIN es_events e ON e.stream_id = 'token-' || t.id AND e.event_type = ANY($1)
          GROUP BY t.id`,
          [TERMINAL_EVENTS],
        ),
      );
      outcomes = new Map(rows.map((row) => [row.id, row]));
      const winners = countBy([...outcomes.values()], (o) => o.channel ?? o.event_type ?? 'none');
      console.log(`raced ${TOKENS} tokens in ${((Date.now() - started) / 1000).toFixed(1)} s; winners: ${JSON.stringify(winners)}`);
    },
    Math.max(120_000, TOKENS * 60),
  );

  it('stores exactly one terminal event per token', () => {
    expect(outcomes.size).toBe(TOKENS);
    const wrong = [...outcomes.values()].filter((o) => o.terminal_events !== 1);
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it("leaves each token in the winner's state, with the winner's output", () => {
    const mismatches: unknown[] = [];
    for (const token of tokens) {
      const o = outcomes.get(token.id)!;
      let expected: Partial<Outcome>;
      if (o.event_type === 'TokenTimedOut') {
        expected = { status: 'TIMED_OUT', completed_by: 'scheduler', output: o.event_output };
        expect(JSON.parse(o.output!)).toMatchObject({ code: 'TRIGGER_WAITPOINT_TIMEOUT' });
      } else if (o.channel === 'api') {
        expected = { status: 'COMPLETED', completed_by: 'api', event_output: JSON.stringify(apiOutput(token)), output: o.event_output };
      } else {
        expected = {
          status: 'COMPLETED',
          completed_by: 'callback',
          channel: 'callback',
          event_output: JSON.stringify(callbackOutput(token)),
          output: o.event_output,
        };
      }
      const actual = Object.fromEntries(Object.keys(expected).map((k) => [k, o[k as keyof Outcome]]));
      if (JSON.stringify(actual) !== JSON.stringify(expected)) mismatches.push({ token: token.id, actual, expected });
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('agrees with what the timeout commands answered: changed exactly when the timeout won', () => {
    const disagreements = tokens.filter((t) => t.timeoutChanged !== (outcomes.get(t.id)!.event_type === 'TokenTimedOut'));
    expect(disagreements.slice(0, 5)).toEqual([]);
  });

  it('is a real race: more than one kind of writer wins', () => {
    const kinds = new Set([...outcomes.values()].map((o) => o.channel ?? o.event_type));
    expect(kinds.size).toBeGreaterThan(1);
  });

  it('shows the stored winner through the API (a sample of 100 tokens)', async () => {
    const step = Math.max(1, Math.floor(tokens.length / 100));
    for (let i = 0; i < tokens.length; i += step) {
      const token = tokens[i];
      const response = await fetch(`${system.tokensUrl}/${token.id}`, { headers: { authorization: `Bearer ${TEST_KEYS.dev}` } });
      const body = (await response.json()) as { status: string; output?: string };
      const stored = outcomes.get(token.id)!;
      expect({ status: body.status, output: body.output }).toEqual({ status: stored.status, output: stored.event_output });
    }
  });

  it('publishes every stored event to JetStream once', async () => {
    const stored = await withDatabase(system.databaseUrl, async (db) => {
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM es_events');
      return rows[0].n;
    });
    expect(stored).toBe(TOKENS * 2);
    await eventually(async () => expect(await streamMessageCount(system.streamName)).toBe(stored), 60_000, 250);
  }, 90_000);
});

/**
 * Four writers per token, all sent when its deadline has passed: a rejection, a completion,
 * the scheduler's timeout and an extension of the deadline by an hour. Exactly one terminal
 * event, whoever wins; an extension lands only while the token waits (before the terminal
 * event, else 409), and a timeout never wins after an extension moved the deadline away.
 */
describe(`${Math.ceil(TOKENS / 5)} tokens, each raced by a rejection, a completion, its timeout and an extension`, () => {
  const COUNT = Math.ceil(TOKENS / 5);
  const raced: (RacedToken & { extendStatus?: number })[] = [];
  let rows: { id: string; types: string[] }[];

  beforeAll(async () => {
    const created = await inPool(
      Array.from({ length: COUNT }, (_, i) => i),
      CREATES_IN_FLIGHT,
      createToken,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    await inPool(created, GROUPS_IN_FLIGHT * GROUP, async (token) => {
      // Sent in a random order, so each writer is sometimes first on the wire (see HEAD_START_MS).
      const sends = [
        () => post(`${system.tokensUrl}/${token.id}/reject`, { error: { message: `rejected ${token.index}` } }, TEST_KEYS.dev),
        () => post(`${system.tokensUrl}/${token.id}/complete`, { data: apiOutput(token) }, TEST_KEYS.dev),
        () => post(`${system.tokensUrl}/${token.id}/extend`, { timeout: '1h' }, TEST_KEYS.dev),
      ];
      const order = [0, 1, 2].sort(() => Math.random() - 0.5);
      const headStart = token.index % 4 === 0;
      const started: Promise<{ status: number; body: unknown }>[] = [];
      for (const [position, i] of order.entries()) {
        if (position === 1 && headStart) await new Promise((resolve) => setTimeout(resolve, HEAD_START_MS));
        started[i] = sends[i]();
      }
      const writers = started;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * TIMEOUT_JITTER_MS));
      const [replies] = await Promise.all([Promise.all(writers), sendTimeout(token)]);
      const [rejected, completed, extended] = replies;
      if (rejected.status !== 200 || completed.status !== 200)
        throw new Error(`reject/complete answered ${rejected.status}/${completed.status}`);
      if (extended.status !== 200 && extended.status !== 409)
        throw new Error(`extend answered ${extended.status} ${JSON.stringify(extended.body)}`);
      raced.push({ ...token, extendStatus: extended.status });
    });
    rows = (
      await withDatabase(system.databaseUrl, (db) =>
        db.query<{ id: string; types: string[] }>(
          `SELECT stream_id AS id, array_agg(event_type ORDER BY stream_version) AS types FROM es_events
            WHERE stream_id = ANY($1::text[]) GROUP BY stream_id`,
          [raced.map((t) => `token-${t.id}`)],
        ),
      )
    ).rows;
  }, 120_000);

  const historyOf = (token: RacedToken) => rows.find((row) => row.id === `token-${token.id}`)!.types;

  it('stores exactly one terminal event per token, after at most one extension', () => {
    const wrong = raced.filter((token) => {
      const types = historyOf(token);
      const terminal = types.filter((type) => TERMINAL_EVENTS.includes(type));
      return (
        terminal.length !== 1 || types[types.length - 1] !== terminal[0] || types.filter((t) => t === 'TokenDeadlineExtended').length > 1
      );
    });
    expect(wrong.slice(0, 5).map((token) => ({ id: token.id, history: historyOf(token) }))).toEqual([]);
  });

  it('lands the extension exactly when it answered 200, and never times out a token it extended', () => {
    const wrong = raced.filter((token) => {
      const types = historyOf(token);
      const extended = types.includes('TokenDeadlineExtended');
      return extended !== (token.extendStatus === 200) || (extended && types.includes('TokenTimedOut'));
    });
    expect(wrong.slice(0, 5).map((token) => ({ id: token.id, history: historyOf(token), extend: token.extendStatus }))).toEqual([]);
  });

  it('agrees with what the timeout commands answered', () => {
    expect(raced.filter((t) => t.timeoutChanged !== historyOf(t).includes('TokenTimedOut')).slice(0, 5)).toEqual([]);
  });

  it('is a real race: more than one kind of writer wins, and the rejection wins some', () => {
    const winners = new Set(raced.map((token) => historyOf(token)[historyOf(token).length - 1]));
    expect(winners.size).toBeGreaterThan(1);
    expect(winners).toContain('TokenRejected');
  });
});

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}
