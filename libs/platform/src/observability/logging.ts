import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import pino, { DestinationStream, Logger } from 'pino';
import { Store, storage as requestLogStorage } from 'nestjs-pino/storage';
import { LogLevel } from './settings';
import { traceLogFields } from './tracing';
import { tracingEnabled } from './tracing-bootstrap';

/**
 * One JSON object per line: `time` (ISO 8601), `level` (a word), `service`, `msg`, and within a
 * request or message also `correlationId`, and with tracing on `trace_id`/`span_id` of the active
 * span. `destination` is for tests; stdout otherwise.
 */
export function createServiceLogger(service: string, level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Only when traces are exported: otherwise no per-line cost.
      ...(tracingEnabled() ? { mixin: traceLogFields } : {}),
    },
    destination,
  );
}

/** Characters we accept in a correlation id given by a caller; anything else is replaced. */
const SAFE_CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const isSaneCorrelationId = (value: unknown): value is string => typeof value === 'string' && SAFE_CORRELATION_ID.test(value);

export const newCorrelationId = (): string => randomUUID();

const correlation = new AsyncLocalStorage<string>();

/** The correlation id of the request or message being handled, if any. */
export function currentCorrelationId(): string | undefined {
  return correlation.getStore();
}

/*
 * Note: nestjs-pino keeps one process-wide logger for log calls made outside any request or
 * message (startup, background loops); with several apps in one process (tests) those lines
 * go to the first app's logger. In-request and in-message lines always use their own app's.
 */

/**
 * Runs `work` as part of one request or message: Nest's Logger (through nestjs-pino) writes
 * with `correlationId`, and outgoing NATS requests carry it in their headers.
 */
export function runWithCorrelation<T>(correlationId: string, logger: Logger, work: () => T): T {
  const scoped = logger.bindings().correlationId === correlationId ? logger : logger.child({ correlationId });
  return requestLogStorage.run(new Store(scoped), () => correlation.run(correlationId, work));
}
