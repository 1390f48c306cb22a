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
 *
 * The correlation id comes from the request's or message's async context (runWithCorrelation),
 * added to each line as it is written, rather than bound into a child logger per request: a
 * child logger serializes its bindings when it is made, which cost the gateway about 5 % of its
 * CPU (one or two children per request, for usually one line).
 */
export function createServiceLogger(service: string, level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Trace fields only when traces are exported: otherwise no per-line cost.
      mixin: tracingEnabled() ? (line: object) => ({ ...correlationFields(line), ...traceLogFields() }) : correlationFields,
    },
    destination,
  );
}

/** `correlationId` of the current request or message, unless the line names one itself. */
function correlationFields(line: object): { correlationId?: string } {
  const correlationId = correlation.getStore();
  return correlationId === undefined || 'correlationId' in line ? {} : { correlationId };
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
 * Runs `work` as part of one request or message: every line written meanwhile (Nest's Logger
 * through nestjs-pino, or `logger` itself) carries `correlationId`, and outgoing NATS requests
 * carry it in their headers.
 */
export function runWithCorrelation<T>(correlationId: string, logger: Logger, work: () => T): T {
  return requestLogStorage.run(new Store(logger), () => correlation.run(correlationId, work));
}
