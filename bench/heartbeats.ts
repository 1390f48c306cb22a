/**
 * npm run bench:heartbeats -- [--heartbeat-tokens=10000] [--every=10] [--seconds=60]
 *                             [--timeouts-per-second=1000] [--heartbeat-timeout=30] [--connections=64]
 *                             [--margin=5] [--port=3930]
 *
 * Issue 12's heartbeat load: "10,000 tokens heartbeating every 10 s (1,000/s) must not grow the
 * timers table, the event store, or timeout lateness". Boots the compiled gateway, token-service
 * and scheduler (bench/support.ts, fresh database and subject prefix), then:
 *
 *   A. without heartbeats: for --seconds, timeout tokens are created at --timeouts-per-second
 *      (open loop, over NATS as bench:timeouts does), each due 2–5 s after its creation; we wait
 *      until all have timed out and measure their lateness as bench:timeouts does
 *      (TokenTimedOut.timedOutAt − timeoutAt, and the scheduler's own histogram);
 *   B. with heartbeats: --heartbeat-tokens tokens are created over HTTP with heartbeatTimeout
 *      (--heartbeat-timeout s) and a one-hour timeout; then each gets a heartbeat
 *      (`POST /api/v1/waitpoints/tokens/:id/heartbeat`, secret key) every --every seconds, spread
 *      evenly (open loop, at most --connections requests in flight on keep-alive connections),
 *      while the same timeout load as in A runs for --seconds. Heartbeats go on until the last
 *      timeout token of B has timed out, then stop;
 *   C. after heartbeats stop: every heartbeat token must time out within heartbeatTimeout +
 *      --margin of its last acknowledged heartbeat (all of them are checked, not a sample).
 *
 * Measured: heartbeats/s achieved, heartbeat request latency (from the intended send time, so
 * a backlog counts, and from the actual send), failures; timeout lateness in A and B; rows and
 * size of scheduler_timers, es_events (and waitpoint_tokens) before and after B; whether any
 * heartbeat token timed out while beating; CPU per process (bench/cpu.ts); the load average.
 * Results: a table on stdout and JSON in bench/results/heartbeats-<time>.json.
 */
import { Agent, request as httpRequest } from 'node:http';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { firstValueFrom, timeout } from 'rxjs';
import { Client } from 'pg';
import { CreateTokenCommand, CreateTokenResult, RpcReply, TokenCommandSubjects } from '@waitpoints/contracts';
import { PrefixedNatsClient } from '@waitpoints/contracts/nats/prefixed-transport';
import { measureCpuListed, PidsByComponent, pidsNamed } from './cpu';
import { distribution, histogramQuantiles, ourResults, schedulerMetrics } from './lateness';
import { deleteJetStreamState, startBenchSystem } from './support';

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=');
    return [key, value ?? 'true'] as const;
  }),
);
const number = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
const HEARTBEAT_TOKENS = number('heartbeat-tokens', 10_000);
const EVERY_S = number('every', 10);
const SECONDS = number('seconds', 60);
const TIMEOUTS_PER_SECOND = number('timeouts-per-second', 1_000);
const HEARTBEAT_TIMEOUT_S = number('heartbeat-timeout', 30);
const CONNECTIONS = number('connections', 64);
const MARGIN_S = number('margin', 5);
const PORT = number('port', 3930);
/** Timeout tokens are due this long after their creation: 2 s plus up to 3 s. */
const TIMEOUT_AHEAD_MS = [2_000, 5_000] as const;
const CREATE_CONCURRENCY = 128;
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const RESULTS_DIR = join(__dirname, 'results');
const STAMP = new Date().toISOString().replace(/[:.]/g, '-');
const ENVIRONMENT = 'dev'; // the bench system's API key is `dev:…`

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${message}`);
const round1 = (n: number) => Math.round(n * 10) / 10;

// ---------------------------------------------------------------- HTTP (keep-alive, bounded)

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });

function post(baseUrl: string, apiKey: string, path: string, body: unknown): Promise<{ status: number; body: string }> {
  const url = new URL(path, baseUrl);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out (30 s)')));
    req.on('error', reject);
    req.end(payload);
  });
}

// ---------------------------------------------------------------- open loop

interface OpenLoopResult {
  sent: number;
  ok: number;
  failures: number;
  failureKinds: Record<string, number>;
  seconds: number;
  /** From the intended send time (so waiting for a free slot counts), ms. */
  fromSchedule: number[];
  /** From the actual send, ms. */
  service: number[];
  maxBacklog: number;
  /** Calls still queued (due but not sent) when told to stop: dropped. */
  droppedAtStop: number;
}

/**
 * Calls `op(k)` for k = 0, 1, … at `rate` per second, evenly spread, until `until()` says stop
 * (checked at each tick), with at most `concurrency` calls in flight; a call due while all
 * slots are busy waits in a queue (its latency from schedule includes the wait).
 */
function openLoop(
  rate: number,
  concurrency: number,
  until: (elapsedMs: number) => boolean,
  op: (k: number) => Promise<void>,
): Promise<OpenLoopResult> {
  const result: OpenLoopResult = {
    sent: 0,
    ok: 0,
    failures: 0,
    failureKinds: {},
    seconds: 0,
    fromSchedule: [],
    service: [],
    maxBacklog: 0,
    droppedAtStop: 0,
  };
  const start = performance.now();
  const queue: { k: number; at: number }[] = [];
  let issued = 0;
  let inFlight = 0;
  let stopped = false;
  return new Promise((resolve) => {
    const finishIfDone = () => {
      if (stopped && inFlight === 0 && queue.length === 0) {
        result.seconds = (performance.now() - start) / 1000;
        resolve(result);
      }
    };
    const pump = () => {
      while (inFlight < concurrency && queue.length > 0) {
        const { k, at } = queue.shift()!;
        inFlight++;
        result.sent++;
        const sentAt = performance.now();
        op(k)
          .then(
            () => {
              const now = performance.now();
              result.ok++;
              result.fromSchedule.push(now - at);
              result.service.push(now - sentAt);
            },
            (error: Error) => {
              result.failures++;
              const kind = error.message.slice(0, 80);
              result.failureKinds[kind] = (result.failureKinds[kind] ?? 0) + 1;
            },
          )
          .finally(() => {
            inFlight--;
            pump();
            finishIfDone();
          });
      }
    };
    const tick = () => {
      const elapsed = performance.now() - start;
      if (!stopped && until(elapsed)) stopped = true;
      if (!stopped) {
        const due = Math.floor((elapsed * rate) / 1000);
        for (; issued < due; issued++) queue.push({ k: issued, at: start + (issued * 1000) / rate });
        result.maxBacklog = Math.max(result.maxBacklog, queue.length);
        pump();
        setTimeout(tick, 5);
      } else {
        // Calls not yet sent when told to stop are dropped (not counted as sent).
        result.droppedAtStop += queue.length;
        queue.length = 0;
        finishIfDone();
      }
    };
    tick();
  });
}

function summary(r: OpenLoopResult) {
  return {
    sent: r.sent,
    ok: r.ok,
    failures: r.failures,
    failureKinds: r.failureKinds,
    seconds: round1(r.seconds),
    achievedPerSecond: Math.round(r.ok / Math.max(r.seconds, 1e-3)),
    latencyFromScheduleMs: distribution(r.fromSchedule),
    serviceTimeMs: distribution(r.service),
    maxBacklog: r.maxBacklog,
    droppedAtStop: r.droppedAtStop,
  };
}

/**
 * The scheduler's fire counters between two snapshots: timers re-armed because the token-service
 * answered a later deadline (a heartbeat moved it), and fires by outcome.
 */
function fireCounts(before: Map<string, number>, after: Map<string, number>) {
  const sum = (prefix: string, of: Map<string, number>) =>
    [...of.entries()].filter(([key]) => key.startsWith(prefix)).reduce((total, [, value]) => total + value, 0);
  const delta = (prefix: string) => sum(prefix, after) - sum(prefix, before);
  return {
    rearmed: delta('waitpoints_scheduler_timers_rearmed_total'),
    firesAllOutcomes: delta('waitpoints_scheduler_timers_fired_total'),
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const loadAtStart = loadavg().map(round1);
  log(
    `heartbeat tokens ${HEARTBEAT_TOKENS} every ${EVERY_S} s (${round1(HEARTBEAT_TOKENS / EVERY_S)}/s), heartbeatTimeout ${HEARTBEAT_TIMEOUT_S} s; ` +
      `timeouts ${TIMEOUTS_PER_SECOND}/s × ${SECONDS} s; load average ${loadAtStart.join(' ')} (${cpus().length} cores, shared)`,
  );
  mkdirSync(RESULTS_DIR, { recursive: true });
  const system = await startBenchSystem({ port: PORT, scheduler: true });
  const client = new PrefixedNatsClient(system.subjectPrefix, { servers: [NATS_URL] });
  const db = new Client({ connectionString: system.databaseUrl });
  try {
    await client.connect();
    await db.connect();
    const components = async (): Promise<PidsByComponent> => {
      const { rows } = await db.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      return {
        ...system.pids,
        'postgres backends': rows.map((row) => Number(row.pid)),
        'nats-server (shared)': pidsNamed('nats-server'),
        bench: [process.pid],
      };
    };

    const tables = async () => {
      const { rows } = await db.query(
        `SELECT relname, n_live_tup::int AS live, n_dead_tup::int AS dead, pg_total_relation_size(relid)::bigint AS bytes
           FROM pg_stat_user_tables WHERE relname IN ('scheduler_timers', 'es_events', 'waitpoint_tokens')`,
      );
      const count = async (table: string) => Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
      const result: Record<string, { rows: number; bytes: number; deadTuples: number }> = {};
      for (const row of rows) result[row.relname] = { rows: await count(row.relname), bytes: Number(row.bytes), deadTuples: row.dead };
      return result;
    };

    /** Open-loop timeout load tagged `tag`: each token due 2–5 s after its creation. */
    const createdByTag = new Map<string, number>();
    const timeoutLoad = (tag: string) =>
      openLoop(
        TIMEOUTS_PER_SECOND,
        CREATE_CONCURRENCY,
        (elapsed) => elapsed >= SECONDS * 1000,
        async () => {
          const ahead = TIMEOUT_AHEAD_MS[0] + Math.random() * (TIMEOUT_AHEAD_MS[1] - TIMEOUT_AHEAD_MS[0]);
          const command: CreateTokenCommand = {
            environment: ENVIRONMENT,
            idempotencyKeyTTLMs: 3_600_000,
            timeout: { at: new Date(Date.now() + ahead).toISOString() },
            tags: [tag],
            metadata: { correlationId: randomUUID(), actor: { type: 'operator', id: 'bench' } },
          };
          const reply = await firstValueFrom(
            client.send<RpcReply<CreateTokenResult>>(TokenCommandSubjects.create, command).pipe(timeout(30_000)),
          );
          if (!reply.ok) throw new Error(`create failed: ${reply.error.message}`);
          createdByTag.set(tag, (createdByTag.get(tag) ?? 0) + 1);
        },
      );
    const countTimedOut = async (tag: string) =>
      Number((await db.query(`SELECT count(*) AS n FROM waitpoint_tokens WHERE status = 'TIMED_OUT' AND $1 = ANY(tags)`, [tag])).rows[0].n);
    /** Waits until every token tagged `tag` has timed out (or `patienceMs` passed). */
    const drain = async (tag: string, patienceMs: number) => {
      const expected = createdByTag.get(tag) ?? 0;
      const giveUp = Date.now() + patienceMs;
      let seen = 0;
      while (Date.now() < giveUp) {
        seen = await countTimedOut(tag);
        if (seen >= expected) return seen;
        await sleep(500);
      }
      log(`WARNING: ${tag}: only ${seen} of ${expected} timed out within ${patienceMs / 1000} s`);
      return seen;
    };
    const lateness = async (tag: string) => distribution((await ourResults(db, tag)).map((r) => r.lateMs));

    // ------------------------------------------------ A: timeouts without heartbeats
    log(`A: timeouts without heartbeats, ${TIMEOUTS_PER_SECOND}/s for ${SECONDS} s…`);
    // Dead tuples and table sizes depend on it (the shared server here may run without it).
    const autovacuum = String((await db.query(`SHOW autovacuum`)).rows[0].autovacuum);
    const tablesAtStart = await tables();
    const metricsA0 = await schedulerMetrics(client);
    const phaseAStarted = Date.now();
    const phaseA = await measureCpuListed(components, async () => {
      const load = await timeoutLoad('phase-a');
      await drain('phase-a', TIMEOUT_AHEAD_MS[1] + 60_000);
      return load;
    });
    const phaseASeconds = (Date.now() - phaseAStarted) / 1000;
    const metricsA1 = await schedulerMetrics(client);
    const schedulerA = { ...histogramQuantiles(metricsA0, metricsA1), ...fireCounts(metricsA0, metricsA1) };
    const latenessA = await lateness('phase-a');
    const tablesAfterA = await tables();
    log(
      `A: lateness p50 ${latenessA.p50} ms, p99 ${latenessA.p99} ms, max ${latenessA.max} ms (n=${latenessA.count}); creates ${summary(phaseA.result).achievedPerSecond}/s`,
    );

    // ------------------------------------------------ heartbeat tokens
    // Over NATS, as the timeout tokens (faster than HTTP here: the first ones must get their
    // first heartbeat before heartbeatTimeout runs out).
    log(`creating ${HEARTBEAT_TOKENS} heartbeat tokens (heartbeatTimeout ${HEARTBEAT_TIMEOUT_S} s, timeout 1 h)…`);
    const ids: string[] = new Array(HEARTBEAT_TOKENS);
    const createStarted = Date.now();
    let nextCreate = 0;
    await Promise.all(
      Array.from({ length: CREATE_CONCURRENCY }, async () => {
        for (let i = nextCreate++; i < HEARTBEAT_TOKENS; i = nextCreate++) {
          const command: CreateTokenCommand = {
            environment: ENVIRONMENT,
            idempotencyKeyTTLMs: 3_600_000,
            timeout: { afterMs: 3_600_000 },
            heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_S * 1000,
            tags: ['heartbeat'],
            metadata: { correlationId: randomUUID(), actor: { type: 'operator', id: 'bench' } },
          };
          const reply = await firstValueFrom(
            client.send<RpcReply<CreateTokenResult>>(TokenCommandSubjects.create, command).pipe(timeout(30_000)),
          );
          if (!reply.ok) throw new Error(`create failed: ${reply.error.message}`);
          ids[i] = reply.value.token.id;
        }
      }),
    );
    const createSeconds = (Date.now() - createStarted) / 1000;
    log(`created in ${createSeconds.toFixed(1)} s (${Math.round(HEARTBEAT_TOKENS / createSeconds)}/s)`);
    // Token i gets its first heartbeat about max(creation time, every) after its creation (both in creation order).
    if (Math.max(createSeconds, EVERY_S) > HEARTBEAT_TIMEOUT_S * 0.9)
      log(
        'WARNING: creation time or the heartbeat period comes close to heartbeatTimeout: the first tokens may time out before their first heartbeat',
      );

    // ------------------------------------------------ B: timeouts with heartbeats
    // The scheduler learns the new timers from the event stream: wait until they are all in its table.
    for (const giveUp = Date.now() + 30_000; Date.now() < giveUp; await sleep(250)) {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM scheduler_timers`);
      if (rows[0].n >= HEARTBEAT_TOKENS) break;
    }
    const tablesBefore = await tables();
    const lastAckedAt: number[] = new Array(HEARTBEAT_TOKENS).fill(createStarted);
    const lastDeadline: number[] = new Array(HEARTBEAT_TOKENS).fill(0);
    const statuses: Record<string, number> = {};
    let stopHeartbeats = false;
    log(
      `B: heartbeats ${round1(HEARTBEAT_TOKENS / EVERY_S)}/s (≤ ${CONNECTIONS} in flight) and timeouts ${TIMEOUTS_PER_SECOND}/s for ${SECONDS} s…`,
    );
    const metricsB0 = await schedulerMetrics(client);
    const phaseBStarted = Date.now();
    const phaseB = await measureCpuListed(components, async () => {
      const beating = openLoop(
        HEARTBEAT_TOKENS / EVERY_S,
        CONNECTIONS,
        () => stopHeartbeats,
        async (k) => {
          const index = k % HEARTBEAT_TOKENS;
          const response = await post(system.baseUrl, system.apiKey, `/api/v1/waitpoints/tokens/${ids[index]}/heartbeat`, {});
          statuses[response.status] = (statuses[response.status] ?? 0) + 1;
          if (response.status >= 300) throw new Error(`heartbeat: ${response.status} ${response.body.slice(0, 60)}`);
          lastAckedAt[index] = Date.now();
          lastDeadline[index] = Date.parse((JSON.parse(response.body) as { heartbeatDeadline: string }).heartbeatDeadline);
        },
      );
      const load = await timeoutLoad('phase-b');
      await drain('phase-b', TIMEOUT_AHEAD_MS[1] + 60_000);
      // Heartbeats run until the last timeout token of B has timed out (at least --seconds).
      stopHeartbeats = true;
      return { load, beats: await beating };
    });
    const heartbeatsStoppedAt = Date.now();
    const phaseBSeconds = (heartbeatsStoppedAt - phaseBStarted) / 1000;
    const metricsB1 = await schedulerMetrics(client);
    const schedulerB = { ...histogramQuantiles(metricsB0, metricsB1), ...fireCounts(metricsB0, metricsB1) };
    const tablesAfter = await tables();
    const heartbeatTimedOutWhileBeating = await countTimedOut('heartbeat');
    const latenessB = await lateness('phase-b');
    const beats = summary(phaseB.result.beats);
    log(
      `B: lateness p50 ${latenessB.p50} ms, p99 ${latenessB.p99} ms, max ${latenessB.max} ms (n=${latenessB.count}); ` +
        `heartbeats ${beats.achievedPerSecond}/s, p50 ${beats.serviceTimeMs.p50} ms, p99 ${beats.serviceTimeMs.p99} ms, failures ${beats.failures}; ` +
        `heartbeat tokens timed out while beating: ${heartbeatTimedOutWhileBeating}`,
    );

    // ------------------------------------------------ C: heartbeat tokens time out after heartbeats stop
    const lastAck = Math.max(...lastAckedAt);
    log(
      `C: waiting for the heartbeat tokens to time out (until ${HEARTBEAT_TIMEOUT_S} + ${MARGIN_S} s after the last heartbeat, then 30 s more)…`,
    );
    const cutoff = lastAck + (HEARTBEAT_TIMEOUT_S + MARGIN_S) * 1000;
    while (Date.now() < cutoff + 30_000 && (await countTimedOut('heartbeat')) < HEARTBEAT_TOKENS) await sleep(1_000);
    const { rows: hbRows } = await db.query(
      `SELECT t.id,
              (extract(epoch FROM (e.data->>'timedOutAt')::timestamptz) * 1000)::float8 AS at_ms,
              (extract(epoch FROM (e.data->>'heartbeatDeadline')::timestamptz) * 1000)::float8 AS hb_ms
         FROM waitpoint_tokens t JOIN es_events e ON e.stream_id = 'token-' || t.id AND e.event_type = 'TokenTimedOut'
        WHERE 'heartbeat' = ANY(t.tags)`,
    );
    const indexOf = new Map(ids.map((id, i) => [id.replace(/^waitpoint_/, ''), i]));
    let timedOutBeforeStop = 0;
    let tooLate = 0;
    let tooEarly = 0;
    let unknown = 0;
    const afterLastAck: number[] = [];
    const afterHeartbeatDeadline: number[] = [];
    for (const row of hbRows) {
      const index = indexOf.get(String(row.id).replace(/^waitpoint_/, ''));
      if (index === undefined) {
        unknown++;
        continue;
      }
      const at = Number(row.at_ms);
      if (at < heartbeatsStoppedAt) timedOutBeforeStop++;
      const sinceAck = at - lastAckedAt[index];
      afterLastAck.push(sinceAck);
      if (row.hb_ms !== null) afterHeartbeatDeadline.push(at - Number(row.hb_ms));
      if (sinceAck > (HEARTBEAT_TIMEOUT_S + MARGIN_S) * 1000) tooLate++;
      if (lastDeadline[index] && at < lastDeadline[index]) tooEarly++;
    }
    const afterStop = {
      tokens: HEARTBEAT_TOKENS,
      timedOut: hbRows.length,
      notTimedOut: HEARTBEAT_TOKENS - hbRows.length,
      timedOutBeforeHeartbeatsStopped: timedOutBeforeStop,
      laterThanHeartbeatTimeoutPlusMargin: tooLate,
      earlierThanLastAcknowledgedDeadline: tooEarly,
      unknownIds: unknown,
      /** timedOutAt − the last acknowledged heartbeat (should be ≈ heartbeatTimeout). */
      sinceLastHeartbeatMs: distribution(afterLastAck),
      /** timedOutAt − the heartbeatDeadline the event records (the lateness of a heartbeat timeout). */
      latenessAfterHeartbeatDeadlineMs: distribution(afterHeartbeatDeadline),
    };
    log(
      `C: ${afterStop.timedOut}/${HEARTBEAT_TOKENS} timed out; late beyond margin ${tooLate}; before heartbeats stopped ${timedOutBeforeStop}`,
    );

    // ------------------------------------------------ report
    const eventsDelta = tablesAfter.es_events.rows - tablesBefore.es_events.rows;
    const timeoutTokensB = createdByTag.get('phase-b') ?? 0;
    const results = {
      startedAt: new Date(createStarted).toISOString(),
      machine: { cpus: cpus().length, node: process.version, loadAverageAtStart: loadAtStart, shared: true },
      postgres: { autovacuum },
      sizes: {
        heartbeatTokens: HEARTBEAT_TOKENS,
        everySeconds: EVERY_S,
        heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S,
        seconds: SECONDS,
        timeoutsPerSecond: TIMEOUTS_PER_SECOND,
        connections: CONNECTIONS,
        timeoutAheadMs: TIMEOUT_AHEAD_MS,
      },
      heartbeatTokenCreation: { seconds: round1(createSeconds), perSecond: Math.round(HEARTBEAT_TOKENS / createSeconds) },
      heartbeats: { ...beats, targetPerSecond: HEARTBEAT_TOKENS / EVERY_S, statuses },
      timeouts: {
        withoutHeartbeats: {
          created: createdByTag.get('phase-a') ?? 0,
          creates: summary(phaseA.result),
          latenessMs: latenessA,
          scheduler: schedulerA,
        },
        withHeartbeats: { created: timeoutTokensB, creates: summary(phaseB.result.load), latenessMs: latenessB, scheduler: schedulerB },
      },
      tables: {
        /** Phase A (timeouts alone): how much the same timeout load grows the tables without heartbeats. */
        atStart: tablesAtStart,
        afterTimeoutsAlone: tablesAfterA,
        beforeHeartbeats: tablesBefore,
        afterHeartbeats: tablesAfter,
        esEventsDelta: eventsDelta,
        /** Each timeout token of B appends TokenCreated and TokenTimedOut: the rest would be heartbeats'. */
        esEventsExpectedFromTimeoutTokens: 2 * timeoutTokensB,
        esEventsNotExplainedByTimeoutTokens: eventsDelta - 2 * timeoutTokensB,
        schedulerTimersDelta: tablesAfter.scheduler_timers.rows - tablesBefore.scheduler_timers.rows,
      },
      heartbeatTokensTimedOutWhileBeating: heartbeatTimedOutWhileBeating,
      afterHeartbeatsStop: afterStop,
      cpuSeconds: { withoutHeartbeats: phaseA.cpu, withHeartbeats: phaseB.cpu },
      phaseSeconds: { withoutHeartbeats: round1(phaseASeconds), withHeartbeats: round1(phaseBSeconds) },
      loadAverageAtEnd: loadavg().map(round1),
    };
    const file = join(RESULTS_DIR, `heartbeats-${STAMP}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);

    const kb = (bytes: number) => `${Math.round(bytes / 1024)} kB`;
    const tableRow = (name: string) => {
      const cells = [
        `${tablesAtStart[name].rows} → ${tablesAfterA[name].rows}`,
        `${kb(tablesAtStart[name].bytes)} → ${kb(tablesAfterA[name].bytes)}`,
        `${tablesBefore[name].rows} → ${tablesAfter[name].rows}`,
        `${kb(tablesBefore[name].bytes)} → ${kb(tablesAfter[name].bytes)}`,
        `${tablesAfterA[name].deadTuples} / ${tablesAfter[name].deadTuples}`,
      ];
      return `| ${name.padEnd(16)} | ${cells.map((c) => c.padStart(19)).join(' | ')} |`;
    };
    const cpuLine = (cpu: Record<string, number>, seconds: number) =>
      Object.entries(cpu)
        .map(([name, s]) => `${name} ${round1(s)} s (${Math.round((100 * s) / seconds)} %)`)
        .join(', ');
    const table = `
Heartbeats benchmark: ${HEARTBEAT_TOKENS.toLocaleString('en')} tokens × a heartbeat every ${EVERY_S} s (heartbeatTimeout ${HEARTBEAT_TIMEOUT_S} s), timeouts ${TIMEOUTS_PER_SECOND}/s × ${SECONDS} s
load average at start ${loadAtStart.join(' ')} on ${cpus().length} shared cores

| measure                               | without heartbeats | with heartbeats |
|---------------------------------------|-------------------:|----------------:|
| timeout tokens created (achieved /s)  | ${`${latenessA.count} (${results.timeouts.withoutHeartbeats.creates.achievedPerSecond}/s)`.padStart(18)} | ${`${latenessB.count} (${results.timeouts.withHeartbeats.creates.achievedPerSecond}/s)`.padStart(15)} |
| timeout lateness p50                  | ${`${latenessA.p50} ms`.padStart(18)} | ${`${latenessB.p50} ms`.padStart(15)} |
| timeout lateness p99                  | ${`${latenessA.p99} ms`.padStart(18)} | ${`${latenessB.p99} ms`.padStart(15)} |
| timeout lateness max                  | ${`${latenessA.max} ms`.padStart(18)} | ${`${latenessB.max} ms`.padStart(15)} |
| scheduler fire lateness p99 (bucket)  | ${`≤ ${schedulerA.p99AtMostMs} ms`.padStart(18)} | ${`≤ ${schedulerB.p99AtMostMs} ms`.padStart(15)} |
| timeouts fired / timers re-armed      | ${`${schedulerA.fired} / ${schedulerA.rearmed}`.padStart(18)} | ${`${schedulerB.fired} / ${schedulerB.rearmed}`.padStart(15)} |
| not-due-yet retries / fire failures   | ${`${schedulerA.notDueRetries} / ${schedulerA.fireFailures}`.padStart(18)} | ${`${schedulerB.notDueRetries} / ${schedulerB.fireFailures}`.padStart(15)} |

heartbeats: ${beats.ok.toLocaleString('en')} ok in ${beats.seconds} s = ${beats.achievedPerSecond}/s (target ${round1(HEARTBEAT_TOKENS / EVERY_S)}/s); failures ${beats.failures}; statuses ${JSON.stringify(statuses)}
heartbeat request: p50 ${beats.serviceTimeMs.p50} ms, p99 ${beats.serviceTimeMs.p99} ms, max ${beats.serviceTimeMs.max} ms (from the intended send: p50 ${beats.latencyFromScheduleMs.p50}, p99 ${beats.latencyFromScheduleMs.p99} ms; max backlog ${beats.maxBacklog}, still queued at the stop ${beats.droppedAtStop})

| table            | rows, A (no beats)  | size, A (no beats)  | rows, B (beating)   | size, B (beating)   | dead after A / B    |
|------------------|--------------------:|--------------------:|--------------------:|--------------------:|--------------------:|
${tableRow('scheduler_timers')}
${tableRow('es_events')}
${tableRow('waitpoint_tokens')}
(PostgreSQL autovacuum: ${autovacuum}; B starts after the heartbeat tokens were created: their TokenCreated events and timers are in its "before")
es_events grew by ${eventsDelta} in B; the ${timeoutTokensB} timeout tokens of B account for ${2 * timeoutTokensB} (created + timed out): ${eventsDelta - 2 * timeoutTokensB} left for heartbeats

heartbeat tokens timed out while beating: ${heartbeatTimedOutWhileBeating}
after heartbeats stopped: ${afterStop.timedOut}/${HEARTBEAT_TOKENS} timed out; since the last heartbeat p50 ${afterStop.sinceLastHeartbeatMs.p50} ms, max ${afterStop.sinceLastHeartbeatMs.max} ms; beyond ${HEARTBEAT_TIMEOUT_S} + ${MARGIN_S} s: ${tooLate}; before the acknowledged deadline: ${tooEarly}; lateness after the heartbeat deadline p50 ${afterStop.latenessAfterHeartbeatDeadlineMs.p50} ms, p99 ${afterStop.latenessAfterHeartbeatDeadlineMs.p99} ms
CPU without heartbeats (${round1(phaseASeconds)} s, load + drain): ${cpuLine(phaseA.cpu, phaseASeconds)}
CPU with heartbeats (${round1(phaseBSeconds)} s): ${cpuLine(phaseB.cpu, phaseBSeconds)}
`;
    writeFileSync(file.replace(/\.json$/, '.txt'), `${table.trim()}\n`);
    console.log(`${table}JSON: ${file}`);
  } finally {
    agent.destroy();
    await client.close().catch(() => undefined);
    await db.end().catch(() => undefined);
    await system.stop().catch(() => undefined);
    await deleteJetStreamState(system.subjectPrefix).catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
