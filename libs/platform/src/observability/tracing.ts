import {
  Attributes,
  Context,
  context,
  Link,
  propagation,
  ROOT_CONTEXT,
  Span,
  SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { tracingEnabled } from './tracing-bootstrap';

export { startTracing, shutdownTracing, tracingEnabled, tracingRequested } from './tracing-bootstrap';
export { SpanKind } from '@opentelemetry/api';
export type { Context as TraceContext, Span } from '@opentelemetry/api';

/**
 * Trace context across NATS: W3C `traceparent` (and `tracestate`) in message headers, and in
 * each command's metadata (a batch message carries several commands, each with its own
 * context). Every helper is a no-op when tracing is off (`tracingEnabled()`), so the
 * messaging code calls them unconditionally.
 */
export const TRACEPARENT_HEADER = 'traceparent';

const tracer = () => trace.getTracer('waitpoints');

/** Anything with get/set of string headers (nats' MsgHdrs, a plain record adapter). */
interface HeaderLike {
  get(key: string): string;
  set(key: string, value: string): void;
}

/** The W3C traceparent of `ctx` (the active context by default); undefined when tracing is off or no span is active. */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  if (!tracingEnabled()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier[TRACEPARENT_HEADER];
}

/** Writes the context (the active one by default) into NATS headers. */
export function injectTraceHeaders(headers: HeaderLike, ctx: Context = context.active()): void {
  if (!tracingEnabled()) return;
  propagation.inject(ctx, headers, {
    set: (carrier, key, value) => carrier.set(key, value),
  });
}

/** The remote context in a traceparent value (from a header or from stored metadata); undefined if absent or malformed. */
export function contextFromTraceparent(traceparent: unknown): Context | undefined {
  if (!tracingEnabled() || typeof traceparent !== 'string' || traceparent === '') return undefined;
  const ctx = propagation.extract(ROOT_CONTEXT, { [TRACEPARENT_HEADER]: traceparent });
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** The remote context carried in NATS headers, if any. */
export function contextFromHeaders(headers: { get(key: string): string } | undefined): Context | undefined {
  if (!tracingEnabled() || !headers) return undefined;
  return contextFromTraceparent(headers.get(TRACEPARENT_HEADER));
}

/** A link to the span a traceparent names (for work done later or elsewhere on its behalf). */
export function linkTo(traceparent: unknown, attributes?: Attributes): Link | undefined {
  const spanContext: SpanContext | undefined = trace.getSpanContext(contextFromTraceparent(traceparent) ?? ROOT_CONTEXT);
  return spanContext ? { context: spanContext, attributes } : undefined;
}

/** A link to the active span (the batch a message came in), if any. */
export function linkToActiveSpan(attributes?: Attributes): Link | undefined {
  const spanContext = tracingEnabled() ? trace.getSpanContext(context.active()) : undefined;
  return spanContext ? { context: spanContext, attributes } : undefined;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The parent; the active context if omitted, a new trace with `ROOT`. */
  parent?: Context | 'root';
  links?: (Link | undefined)[];
}

/**
 * Runs `work` inside a new span that ends when it settles (errors recorded). With tracing
 * off, runs `work` with no span at all.
 */
export function inSpan<T>(name: string, options: SpanOptions, work: (span?: Span) => T): T {
  const started = startSpan(name, options);
  if (!started) return work();
  const { span } = started;
  let result: T;
  try {
    result = context.with(started.context, () => work(span));
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
  if (result instanceof Promise) {
    return result.then(
      (value) => {
        endSpan(span);
        return value;
      },
      (error: unknown) => {
        endSpan(span, error);
        throw error;
      },
    ) as T;
  }
  endSpan(span);
  return result;
}

/**
 * Runs `work` as the consumer of a stored event: a CONSUMER span in the trace of the command
 * that stored it (`metadata.traceparent`), linked to the span that published this copy (the
 * message's `traceparent` header, the outbox relay's). Untraced events get no span.
 */
export function consumeSpan<T>(
  name: string,
  event: { eventId?: string; metadata?: { traceparent?: string } },
  headers: { get(key: string): string } | undefined,
  work: () => T,
): T {
  const stored = contextFromTraceparent(event.metadata?.traceparent);
  if (!stored) return work();
  return inSpan(
    name,
    {
      kind: SpanKind.CONSUMER,
      parent: stored,
      links: [linkTo(headers?.get(TRACEPARENT_HEADER), { 'waitpoints.link': 'published_by' })],
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        ...(event.eventId ? { 'messaging.message.id': event.eventId } : {}),
      },
    },
    work,
  );
}

/** Starts a span without activating it (for work that is not one function call); undefined with tracing off. */
export function startSpan(name: string, options: SpanOptions): { span: Span; context: Context } | undefined {
  if (!tracingEnabled()) return undefined;
  const parent = options.parent === 'root' ? ROOT_CONTEXT : (options.parent ?? context.active());
  const links = options.links?.filter((link): link is Link => link !== undefined);
  const span = tracer().startSpan(
    name,
    { kind: options.kind, attributes: options.attributes, links, root: options.parent === 'root' },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends a span from `startSpan`, recording `error` if given. */
export function endSpan(span: Span | undefined, error?: unknown): void {
  if (!span) return;
  if (error !== undefined) {
    const described = error instanceof Error ? error : (JSON.stringify(error) ?? 'unknown error');
    span.recordException(described);
    span.setStatus({ code: SpanStatusCode.ERROR, message: typeof described === 'string' ? described : described.message });
  }
  span.end();
}

/** Runs `work` in `ctx` (as is, without a context). */
export function withTraceContext<T>(ctx: Context | undefined, work: () => T): T {
  return ctx ? context.with(ctx, work) : work();
}

/** `trace_id`/`span_id` of the active span, for log lines (pino mixin); empty when none. */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const spanContext = trace.getSpanContext(context.active());
  if (!spanContext) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
