/**
 * Starts the OpenTelemetry SDK (traces only) when an OTLP endpoint is configured. Each app's
 * main.ts imports its `tracing.ts` first, which calls this before Nest, express, http or pg
 * are loaded, so their instrumentations can patch them. Without an endpoint nothing is loaded
 * (the SDK is required lazily): only the no-op `@opentelemetry/api` stays in the process.
 *
 * Configured by the standard variables: OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), OTEL_EXPORTER_OTLP_PROTOCOL (`http/protobuf` default,
 * `http/json`, `grpc`), OTEL_SERVICE_NAME (else the app's name), OTEL_TRACES_SAMPLER and
 * OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_* (batching), OTEL_SDK_DISABLED, OTEL_RESOURCE_ATTRIBUTES.
 * Metrics stay on Prometheus and logs on stdout: OTLP metrics and logs are off unless
 * OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for them.
 *
 * Imports nothing but Node built-ins at load time: keep it that way.
 */

/** Ops endpoints polled by probes and Prometheus: not worth a trace each. */
const UNTRACED_PATHS = /^\/(metrics|health|ready)(\/|\?|$)/;

interface TracingHandle {
  serviceName: string;
  shutdown(): Promise<void>;
}

const STARTED = Symbol.for('waitpoints.tracing');
type Global = typeof globalThis & { [STARTED]?: TracingHandle };

/** True when the environment asks for traces (an OTLP endpoint is set and the SDK is not disabled). */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const endpoint = (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').trim();
  if (endpoint === '') return false;
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  if (
    (env.OTEL_TRACES_EXPORTER ?? '')
      .split(',')
      .map((s) => s.trim())
      .includes('none')
  )
    return false;
  return true;
}

/** Whether this process exports traces (started by `startTracing`). */
export function tracingEnabled(): boolean {
  return (globalThis as Global)[STARTED] !== undefined;
}

/**
 * Starts tracing for `serviceName` if the environment asks for it; idempotent. Spans still
 * queued at SIGTERM/SIGINT are flushed while the app shuts down.
 */
export function startTracing(serviceName: string): void {
  const global = globalThis as Global;
  if (global[STARTED] || !tracingRequested()) return;
  // Only traces go to OTLP unless asked otherwise (the SDK would default metrics and logs to OTLP too).
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation, ExpressLayerType } =
    require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME wins (the SDK's option would override it).
    serviceName: process.env.OTEL_SERVICE_NAME ? undefined : serviceName,
    metricReaders: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? ''),
      }),
      // Route handlers only: a span per middleware (cors, correlation id, Nest's own) was half
      // of a request's spans and of the gateway's tracing cost (bench:tracing).
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      // Background loops (outbox polls, timer claims) query without a parent: no root span per poll.
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  const handle: TracingHandle = {
    serviceName: process.env.OTEL_SERVICE_NAME || serviceName,
    shutdown: () => sdk.shutdown(),
  };
  global[STARTED] = handle;
  // Nest's shutdown hooks close the app on these signals; flush the queued spans meanwhile.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void handle.shutdown().catch(() => undefined));
  }
}

/** Flushes and stops the SDK (no-op when tracing is off). */
export async function shutdownTracing(): Promise<void> {
  await (globalThis as Global)[STARTED]?.shutdown();
}
