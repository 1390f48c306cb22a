import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { NatsContext } from '@nestjs/microservices';
import { CORRELATION_ID_HEADER } from '@waitpoints/contracts';
import type { Logger } from 'pino';
import { Observable, tap } from 'rxjs';
import type { Histogram } from 'prom-client';
import { isSaneCorrelationId, newCorrelationId, runWithCorrelation } from './logging';
import { outcomeOf, secondsSince } from './metrics';

/**
 * Wraps every NATS message handler of a service: takes the correlation id from the
 * `Waitpoints-Correlation-Id` header (else from the command's metadata, else a new one), writes
 * it into the command's metadata (so the stored events carry it), logs within it, and times
 * the handler. HTTP requests of the same app pass through untouched.
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
    const data = rpc.getData() as { metadata?: { correlationId?: unknown } } | undefined;
    const fromHeader = nats.getHeaders()?.get(CORRELATION_ID_HEADER);
    const correlationId = isSaneCorrelationId(fromHeader)
      ? fromHeader
      : isSaneCorrelationId(data?.metadata?.correlationId)
        ? data.metadata.correlationId
        : newCorrelationId();
    if (data && typeof data.metadata === 'object' && data.metadata !== null) data.metadata.correlationId = correlationId;

    const startedAt = process.hrtime.bigint();
    return new Observable((subscriber) =>
      runWithCorrelation(correlationId, this.logger, () => {
        const log = this.logger.child({ correlationId });
        return next
          .handle()
          .pipe(
            tap({
              next: (reply) => {
                const seconds = secondsSince(startedAt);
                const outcome = outcomeOf(reply);
                this.durations.observe({ subject, outcome }, seconds);
                log.debug({ subject, outcome, durationMs: Math.round(seconds * 1000) }, `handled ${subject}`);
              },
              error: (error: unknown) => {
                this.durations.observe({ subject, outcome: 'exception' }, secondsSince(startedAt));
                log.error({ subject, err: error }, `handler of ${subject} failed`);
              },
            }),
          )
          .subscribe(subscriber);
      }),
    );
  }

  private relative(subject: string): string {
    return subject.startsWith(`${this.subjectPrefix}.`) ? subject.slice(this.subjectPrefix.length + 1) : subject;
  }
}
