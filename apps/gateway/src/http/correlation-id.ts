import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

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
