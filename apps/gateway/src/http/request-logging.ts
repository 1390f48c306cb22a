import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { secondsSince } from '@waitpoints/platform';
import type { GatewayMetrics } from '../ops/gateway-metrics';
import { correlationIdOf } from './correlation-id';

/** Paths scraped or probed every few seconds: measured, but not written to the request log. */
const QUIET_PATHS = new Set(['/metrics', '/health', '/ready']);

/**
 * Credentials that travel in URLs, kept out of logs: a callback or approval URL's last segment (it
 * completes the token) and a public access token given as `?access_token=` (EventSource cannot send headers).
 */
export function redactCredentials(url: string): string {
  return url.replace(/(\/(?:callback|approval)\/)[^/?#]+/, '$1[redacted]').replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]');
}

/**
 * One JSON line per request, when its response has finished or its connection closed: `req`
 * (method and URL, credentials redacted), `res.statusCode`, `responseTime` (ms) and
 * `correlationId`; at level error with `err` for a 5xx. Runs before the body parsers, so rejected
 * bodies are logged too.
 *
 * Hand-written rather than pino-http, whose two child loggers per request (the request's
 * bindings serialized for every request) were the gateway's largest single cost after the
 * sockets. Lines written while the request is handled get `correlationId` from its async context
 * (see createServiceLogger), so `req.log` is the service logger itself.
 */
export function requestLogging(logger: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    (req as Request & { log?: Logger }).log = logger;
    if (QUIET_PATHS.has(pathOf(req.url))) return next();
    const startedAt = Date.now();
    const done = (error?: unknown) => {
      res.removeListener('close', done);
      res.removeListener('finish', done);
      res.removeListener('error', done);
      const { statusCode } = res;
      const line = {
        correlationId: correlationIdOf(req),
        req: { method: req.method, url: redactCredentials(req.originalUrl ?? req.url) },
        res: { statusCode },
        responseTime: Date.now() - startedAt,
      };
      const message = `${req.method} ${line.req.url} ${statusCode}`;
      if (error instanceof Error || statusCode >= 500) {
        logger.error({ ...line, err: error instanceof Error ? error : new Error(`failed with status code ${statusCode}`) }, message);
      } else {
        logger.info(line, message);
      }
    };
    res.on('close', done);
    res.on('finish', done);
    res.on('error', done);
    next();
  };
}

const pathOf = (url: string | undefined) => (url ?? '').split('?')[0];

/** Observes every answered request in `waitpoints_http_request_duration_seconds`. */
export function requestMetrics(metrics: GatewayMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const startedAt = process.hrtime.bigint();
    res.once('finish', () => {
      // The route pattern, not the path: ids would make one series per token.
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      metrics.httpRequests.observe({ method: req.method, route, status: String(res.statusCode) }, secondsSince(startedAt));
    });
    next();
  };
}
