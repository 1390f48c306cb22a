import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Seconds, from a fast in-memory answer to a request that hits its timeout. */
export const REQUEST_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * A registry per app instance (tests run several apps in one process, so nothing goes into
 * prom-client's global registry), with Node's process metrics (`process_*`, `nodejs_*`).
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Duration of NATS requests this service sent, by subject (without the prefix) and outcome. */
export function natsRequestDurations(registry: Registry): Histogram<'subject' | 'outcome'> {
  return new Histogram({
    name: 'waitpoints_nats_request_duration_seconds',
    help: 'NATS requests sent by this service, from send to reply, by subject (without the deployment prefix) and outcome (ok, an error code, timeout, unavailable)',
    labelNames: ['subject', 'outcome'] as const,
    buckets: REQUEST_DURATION_BUCKETS,
    registers: [registry],
  });
}

/** Duration of NATS requests this service handled, by subject and outcome. */
export function natsHandlerDurations(registry: Registry): Histogram<'subject' | 'outcome'> {
  return new Histogram({
    name: 'waitpoints_nats_handler_duration_seconds',
    help: 'NATS requests handled by this service, from receipt to reply, by subject (without the deployment prefix) and outcome (ok, an error code, exception)',
    labelNames: ['subject', 'outcome'] as const,
    buckets: REQUEST_DURATION_BUCKETS,
    registers: [registry],
  });
}

/** Seconds since `startedAt` (a `process.hrtime.bigint()` reading). */
export const secondsSince = (startedAt: bigint): number => Number(process.hrtime.bigint() - startedAt) / 1e9;

/** The outcome label of an RpcReply-shaped value: `ok` or its error code. */
export function outcomeOf(reply: unknown): string {
  const r = reply as { ok?: boolean; error?: { code?: unknown } } | undefined;
  if (r && r.ok === false) return typeof r.error?.code === 'string' ? r.error.code : 'error';
  return 'ok';
}
