import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { NatsContext } from '@nestjs/microservices';
import { CORRELATION_ID_HEADER } from '@waitpoints/contracts';
import type { Logger } from 'pino';
import { Observable, tap } from 'rxjs';
import type { Histogram } from 'prom-client';
import { isSaneCorrelationId, newCorrelationId, runWithCorrelation } from './logging';
import { outcomeOf, secondsSince } from './metrics';
import { contextFromHeaders, contextFromTraceparent, endSpan, SpanKind, startSpan, traceparentOf, withTraceContext } from './tracing';

/**
 * Wraps every NATS message handler of a service: takes the correlation id from the
 * `Waitpoints-Correlation-Id` header (else from the command's metadata, else a new one), writes
 * it into the command's metadata (so the stored events carry it), logs within it, and times
 * the handler. With tracing on, the handler runs in a SERVER span whose parent is the sender's
 * context (the `traceparent` header, else the command's `metadata.traceparent`), and the
 * command's metadata then names that span, so the stored events point back to it. HTTP
 * requests of the same app pass through untouched.
 */
@Injectable()
export class NatsHandlerInterceptor implements NestInterceptor {
  constructor(
    private readonly logger: Logger,
    private readonly durations: Histogram<'subject' | 'outcome'>,
    private readonly subjectPrefix: string,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const rpc = context.switchToRpc();
    const nats = rpc.getContext<NatsContext>();
    const subject = this.relative(nats.getSubject());
    const data = rpc.getData() as { metadata?: { correlationId?: unknown; traceparent?: unknown } } | undefined;
    const fromHeader = nats.getHeaders()?.get(CORRELATION_ID_HEADER);
    const correlationId = isSaneCorrelationId(fromHeader)
      ? fromHeader
      : isSaneCorrelationId(data?.metadata?.correlationId)
        ? data.metadata.correlationId
        : newCorrelationId();
    const hasMetadata = data && typeof data.metadata === 'object' && data.metadata !== null;
    if (hasMetadata) data.metadata!.correlationId = correlationId;
    const traced = startSpan(`handle ${subject}`, {
      kind: SpanKind.SERVER,
      parent: contextFromHeaders(nats.getHeaders()) ?? contextFromTraceparent(data?.metadata?.traceparent) ?? 'root',
      attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'waitpoints.correlation_id': correlationId },
    });
    if (traced && hasMetadata) data.metadata!.traceparent = traceparentOf(traced.context);

    const startedAt = process.hrtime.bigint();
    return new Observable((subscriber) =>
      withTraceContext(traced?.context, () =>
        runWithCorrelation(correlationId, this.logger, () => {
          return next
            .handle()
            .pipe(
              tap({
                next: (reply) => {
                  const seconds = secondsSince(startedAt);
                  const outcome = outcomeOf(reply);
                  this.durations.observe({ subject, outcome }, seconds);
                  this.logger.debug({ correlationId, subject, outcome, durationMs: Math.round(seconds * 1000) }, `handled ${subject}`);
                  traced?.span.setAttribute('waitpoints.outcome', outcome);
                  endSpan(traced?.span);
                },
                error: (error: unknown) => {
                  this.durations.observe({ subject, outcome: 'exception' }, secondsSince(startedAt));
                  this.logger.error({ correlationId, subject, err: error }, `handler of ${subject} failed`);
                  endSpan(traced?.span, error);
                },
              }),
            )
            .subscribe(subscriber);
        }),
      ),
    );
  }

  private relative(subject: string): string {
    return subject.startsWith(`${this.subjectPrefix}.`) ? subject.slice(this.subjectPrefix.length + 1) : subject;
  }
}
