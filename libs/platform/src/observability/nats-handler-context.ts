import type { MessageHandler, NatsContext } from '@nestjs/microservices';
import { CORRELATION_ID_HEADER } from '@waitpoints/contracts';
import type { Logger } from 'pino';
import { isObservable, Observable, tap } from 'rxjs';
import type { Histogram } from 'prom-client';
import { isSaneCorrelationId, newCorrelationId, runWithCorrelation } from './logging';
import { outcomeOf, secondsSince } from './metrics';
import { contextFromHeaders, contextFromTraceparent, endSpan, SpanKind, startSpan, traceparentOf, withTraceContext } from './tracing';

/** Wraps a NATS message handler of Nest's (see PrefixedNatsServer.wrapHandlersWith). */
export type NatsHandlerWrapper = (handler: MessageHandler) => MessageHandler;

/**
 * What every NATS message handler of a service runs within: takes the correlation id from the
 * `Waitpoints-Correlation-Id` header (else from the command's metadata, else a new one), writes
 * it into the command's metadata (so the stored events carry it), logs within it, and times
 * the handler. With tracing on, the handler runs in a SERVER span whose parent is the sender's
 * context (the `traceparent` header, else the command's `metadata.traceparent`), and the
 * command's metadata then names that span, so the stored events point back to it.
 *
 * A wrapper around each handler rather than a Nest interceptor: without interceptors Nest calls
 * a handler directly instead of through an RxJS pipeline per message.
 */
export function observeNatsHandlers(
  logger: Logger,
  durations: Histogram<'subject' | 'outcome'>,
  subjectPrefix: string,
): NatsHandlerWrapper {
  const relative = (subject: string) => (subject.startsWith(`${subjectPrefix}.`) ? subject.slice(subjectPrefix.length + 1) : subject);
  return (handler) => {
    const observed = (data: unknown, nats?: NatsContext) => {
      const subject = relative(nats?.getSubject() ?? '');
      const message = data as { metadata?: { correlationId?: unknown; traceparent?: unknown } } | undefined;
      const fromHeader = nats?.getHeaders()?.get(CORRELATION_ID_HEADER);
      const correlationId = isSaneCorrelationId(fromHeader)
        ? fromHeader
        : isSaneCorrelationId(message?.metadata?.correlationId)
          ? message.metadata.correlationId
          : newCorrelationId();
      const hasMetadata = message && typeof message.metadata === 'object' && message.metadata !== null;
      if (hasMetadata) message.metadata!.correlationId = correlationId;
      const traced = startSpan(`handle ${subject}`, {
        kind: SpanKind.SERVER,
        parent: contextFromHeaders(nats?.getHeaders()) ?? contextFromTraceparent(message?.metadata?.traceparent) ?? 'root',
        attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'waitpoints.correlation_id': correlationId },
      });
      if (traced && hasMetadata) message.metadata!.traceparent = traceparentOf(traced.context);

      const startedAt = process.hrtime.bigint();
      const succeeded = (reply: unknown) => {
        const seconds = secondsSince(startedAt);
        const outcome = outcomeOf(reply);
        durations.observe({ subject, outcome }, seconds);
        logger.debug({ correlationId, subject, outcome, durationMs: Math.round(seconds * 1000) }, `handled ${subject}`);
        traced?.span.setAttribute('waitpoints.outcome', outcome);
        endSpan(traced?.span);
      };
      const failed = (error: unknown) => {
        durations.observe({ subject, outcome: 'exception' }, secondsSince(startedAt));
        logger.error({ correlationId, subject, err: error }, `handler of ${subject} failed`);
        endSpan(traced?.span, error);
      };
      return withTraceContext(traced?.context, () =>
        runWithCorrelation(correlationId, logger, async () => {
          let result: unknown;
          try {
            result = await handler(data, nats);
          } catch (error) {
            failed(error);
            throw error;
          }
          // Nest hands back an exception it caught as an erroring stream; a handler may return a stream too.
          if (isObservable(result)) return (result as Observable<unknown>).pipe(tap({ next: succeeded, error: failed }));
          succeeded(result);
          return result;
        }),
      );
    };
    return observed as MessageHandler;
  };
}
