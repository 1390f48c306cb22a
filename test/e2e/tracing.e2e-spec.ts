/**
 * OpenTelemetry traces end to end: the three services run from dist/ as separate processes
 * (the SDK is process-global, so one Jest process cannot hold three services' providers)
 * and export OTLP/HTTP JSON to a real receiver started here. Each HTTP call carries a
 * traceparent chosen by the test, so each story's spans are found by their trace id.
 *
 * Builds dist/ first (npm run build) unless TRACING_E2E_NO_BUILD=1.
 */
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect } from 'nats';
import { CollectedSpan, OtlpReceiver } from '../../bench/otlp-receiver';
import { BenchSystem, deleteJetStreamState, freePort, startBenchSystem } from '../../bench/support';
import { requireNats, requirePostgres } from '../support/services';
import { openEventStream } from '../support/sse';

jest.setTimeout(240_000);

const newTraceId = () => randomBytes(16).toString('hex');
const traceparent = (traceId: string) => `00-${traceId}-${randomBytes(8).toString('hex')}-01`;

async function eventually<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let receiver: OtlpReceiver;
let system: BenchSystem;

beforeAll(async () => {
  await Promise.all([requirePostgres(), requireNats()]);
  if (process.env.TRACING_E2E_NO_BUILD !== '1') execSync('npm run build', { stdio: 'ignore', timeout: 200_000 });
  receiver = new OtlpReceiver();
  const endpoint = await receiver.start();
  system = await startBenchSystem({
    port: await freePort(),
    scheduler: true,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      // Timers are claimed ahead of time and fired promptly in this story.
      LOG_LEVEL: 'silent',
    },
  });
});

afterAll(async () => {
  // TRACING_E2E_DUMP=file: every collected span, to look at a failing story.
  if (process.env.TRACING_E2E_DUMP && receiver) writeFileSync(process.env.TRACING_E2E_DUMP, JSON.stringify(receiver.spans, null, 1));
  await system?.stop();
  if (system) await deleteJetStreamState(system.subjectPrefix);
  await receiver?.stop();
});

describe('OpenTelemetry traces', () => {
  it('follow a create → complete → timeout story through the gateway, the token-service and the scheduler', async () => {
    const auth = { authorization: `Bearer ${system.apiKey}` };
    const tokensUrl = `${system.baseUrl}/api/v1/waitpoints/tokens`;
    const post = async (url: string, body: unknown, traceId: string) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', traceparent: traceparent(traceId) },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as { id: string };
    };

    // 1. A token that will time out, and one that will be completed; each watched over SSE.
    const createTimedOut = newTraceId();
    const timedOut = await post(tokensUrl, { timeout: '2s' }, createTimedOut);
    const createCompleted = newTraceId();
    const completed = await post(tokensUrl, { timeout: '1h' }, createCompleted);
    const watchTimedOut = await openEventStream(`${tokensUrl}/${timedOut.id}/events`, auth);
    const watchCompleted = await openEventStream(`${tokensUrl}/${completed.id}/events`, auth);
    expect(await watchTimedOut.next()).toMatchObject({ event: 'token' });
    expect(await watchCompleted.next()).toMatchObject({ event: 'token' });

    // 2. Complete the second.
    const complete = newTraceId();
    await post(`${tokensUrl}/${completed.id}/complete`, { data: { approved: true } }, complete);
    const completedEvents = await watchCompleted.rest(15_000);
    expect(completedEvents.at(-1)).toMatchObject({ event: 'end', data: '{"status":"COMPLETED"}' });

    // 3. Several creations in the same turn travel as one batch message; each keeps its own trace.
    const batched = Array.from({ length: 16 }, newTraceId);
    await Promise.all(batched.map((traceId) => post(tokensUrl, { timeout: '1h' }, traceId)));

    // A batch message straight to the token-service (the gateway sends one when requests arrive in
    // the same event-loop turn): each command's context comes from its own metadata.
    const inBatch = [newTraceId(), newTraceId()];
    const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
    try {
      const batch = {
        requests: inBatch.map((traceId, i) => ({
          subject: 'cmd.token.create',
          payload: {
            environment: 'dev',
            idempotencyKeyTTLMs: 0,
            timeout: { afterMs: 3_600_000 },
            tags: [],
            metadata: { correlationId: `batched-${i}`, actor: { type: 'api_key', id: 'dev' }, traceparent: traceparent(traceId) },
          },
        })),
      };
      const reply = await nc.request(
        `${system.subjectPrefix}.rpc.token.batch`,
        JSON.stringify({ pattern: 'rpc.token.batch', data: batch, id: 'tracing-e2e' }),
        { timeout: 10_000 },
      );
      expect(JSON.parse(reply.string()).response.replies.map((r: { ok: boolean }) => r.ok)).toEqual([true, true]);
    } finally {
      await nc.close();
    }

    // 4. The first one times out.
    const timedOutEvents = await watchTimedOut.rest(30_000);
    expect(timedOutEvents.at(-1)).toMatchObject({ event: 'end', data: '{"status":"TIMED_OUT"}' });

    const services = (spans: CollectedSpan[]) => [...new Set(spans.map((s) => s.service))].sort();
    const names = (spans: CollectedSpan[], service: string) => spans.filter((s) => s.service === service).map((s) => s.name);

    // The creation: HTTP request → NATS request → handler + SQL → outbox publish → scheduler ingest.
    const creation = await eventually('the creation trace in all three services', () => {
      const spans = receiver.inTrace(createTimedOut);
      const all = [...names(spans, 'gateway'), ...names(spans, 'token-service'), ...names(spans, 'scheduler')];
      return (
        ['send cmd.token.create', 'handle cmd.token.create', 'publish TokenCreated', 'ingest TokenCreated'].every((n) => all.includes(n)) &&
        spans
      );
    });
    expect(services(creation)).toEqual(['gateway', 'scheduler', 'token-service']);
    expect(names(creation, 'gateway')).toEqual(expect.arrayContaining(['send cmd.token.create']));
    expect(creation.some((s) => s.service === 'gateway' && s.kind === 2 /* SERVER: the HTTP request */)).toBe(true);
    expect(names(creation, 'token-service')).toEqual(expect.arrayContaining(['handle cmd.token.create', 'publish TokenCreated']));
    // pg instrumentation: the handler's SQL is in the trace.
    expect(
      creation.some((s) => s.service === 'token-service' && s.kind === 3 /* CLIENT */ && /pg|postgres|INSERT|SELECT|WITH/i.test(s.name)),
    ).toBe(true);
    // The outbox's publish is linked from the scheduler's ingest.
    const publish = creation.find((s) => s.name === 'publish TokenCreated')!;
    const ingest = creation.find((s) => s.name === 'ingest TokenCreated')!;
    expect(ingest.links?.map((l) => l.spanId)).toContain(publish.spanId);

    // The completion: the gateway's feed wakes the SSE waiter within the completion's trace.
    const completion = await eventually('the completion trace in all three services', () => {
      const spans = receiver.inTrace(complete);
      const all = spans.map((s) => s.name);
      return (
        ['wake TokenCompleted', 'handle cmd.token.complete', 'publish TokenCompleted', 'ingest TokenCompleted'].every((n) =>
          all.includes(n),
        ) && spans
      );
    });
    expect(services(completion)).toEqual(['gateway', 'scheduler', 'token-service']);
    expect(names(completion, 'token-service')).toEqual(expect.arrayContaining(['handle cmd.token.complete', 'publish TokenCompleted']));

    // Batched creations: each trace has its own handler span (context from the batch payload metadata).
    for (const traceId of batched) {
      const spans = await eventually(`batched creation ${traceId}`, () => {
        const found = receiver.inTrace(traceId);
        return names(found, 'token-service').includes('handle cmd.token.create') && found;
      });
      expect(names(spans, 'gateway')).toContain('send cmd.token.create');
    }

    // The batch message has its own span; each command's handler is in its sender's trace, linked to it.
    const batchSpanIds = () => new Set(receiver.spans.filter((s) => s.name === 'handle rpc.token.batch').map((s) => s.spanId));
    for (const traceId of inBatch) {
      const spans = await eventually(`batched command ${traceId}`, () => {
        const found = receiver.inTrace(traceId);
        return (
          ['handle cmd.token.create', 'publish TokenCreated', 'ingest TokenCreated'].every((n) => found.some((s) => s.name === n)) && found
        );
      });
      const handler = spans.find((s) => s.name === 'handle cmd.token.create')!;
      expect(handler.service).toBe('token-service');
      const linked = await eventually('the batch span', () => handler.links?.find((l) => batchSpanIds().has(l.spanId)));
      expect(linked.traceId).not.toBe(traceId);
    }

    // The timeout: the scheduler's firing starts a new trace, linked to the token's creation, and
    // the token-service's handling and the gateway's wake-up join it.
    const firing = await eventually('the firing span linked to the creation', () =>
      receiver.spans.find((s) => s.name === 'fire timeouts' && s.links?.some((l) => l.traceId === createTimedOut)),
    );
    expect(firing.service).toBe('scheduler');
    expect(firing.traceId).not.toBe(createTimedOut);
    expect(firing.parentSpanId || undefined).toBeUndefined();
    const timeout = await eventually('the timeout trace in all three services', () => {
      const spans = receiver.inTrace(firing.traceId);
      const all = spans.map((s) => s.name);
      return ['wake TokenTimedOut', 'handle cmd.token.timeout-batch', 'publish TokenTimedOut'].every((n) => all.includes(n)) && spans;
    });
    expect(services(timeout)).toEqual(['gateway', 'scheduler', 'token-service']);
    expect(names(timeout, 'token-service')).toEqual(expect.arrayContaining(['handle cmd.token.timeout-batch', 'publish TokenTimedOut']));
    // Only the three services exported, and nothing for the ops endpoints.
    expect(services(receiver.spans)).toEqual(['gateway', 'scheduler', 'token-service']);
    expect(receiver.spans.some((s) => /metrics|health|ready/.test(s.name))).toBe(false);
  });
});
