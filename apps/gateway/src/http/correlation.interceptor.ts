import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import type { Logger } from 'pino';
import { Observable } from 'rxjs';
import { runWithCorrelation } from '@waitpoints/platform';
import { correlationIdOf } from './correlation-id';

/**
 * Runs each route handler within its request's correlation id, so the NATS requests it sends
 * carry the id in a header (see TokenServiceClient) and its logs name it.
 */
@Injectable()
export class CorrelationInterceptor implements NestInterceptor {
  constructor(private readonly logger: Logger) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<Request & { log?: Logger }>();
    return new Observable((subscriber) =>
      runWithCorrelation(correlationIdOf(request), request.log ?? this.logger, () => next.handle().subscribe(subscriber)),
    );
  }
}
