import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { runWithCorrelation } from '@waitpoints/platform';

const HEADER = 'x-request-id';
const SAFE = /^[A-Za-z0-9._:-]{1,128}$/;

type WithCorrelation = Request & { correlationId?: string };

/** Takes the caller's `x-request-id` (if sane) or makes one; it travels into the stored event. */
export function correlationIdMiddleware(req: Request, res: Response, next: NextFunction): void {
  const given = req.headers[HEADER];
  const id = typeof given === 'string' && SAFE.test(given) ? given : randomUUID();
  (req as WithCorrelation).correlationId = id;
  res.setHeader(HEADER, id);
  next();
}

export function correlationIdOf(req: Request): string {
  return (req as WithCorrelation).correlationId ?? randomUUID();
}

/**
 * Runs the rest of the request (guards, pipes, the route handler and what it awaits) within its
 * correlation id, so the NATS requests it sends carry the id in a header (see TokenServiceClient)
 * and its logs name it. Registered after the body parsers: a parser hands over from the request
 * stream's own callbacks, which would not carry a context started before it.
 *
 * A middleware rather than a Nest interceptor: with no interceptor, Nest calls each handler
 * directly instead of through an RxJS pipeline per request.
 */
export function correlationContext(logger: Logger) {
  return (req: Request & { log?: Logger }, _res: Response, next: NextFunction): void =>
    runWithCorrelation(correlationIdOf(req), req.log ?? logger, next);
}
