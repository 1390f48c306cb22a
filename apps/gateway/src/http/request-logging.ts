import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
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
 * One JSON line per request (method, URL, status, time, correlationId), and `req.log` bound to
 * the request's correlation id. Runs before the body parsers, so rejected bodies are logged too.
 */
export function requestLogging(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (req) => correlationIdOf(req as Request),
    customAttributeKeys: { reqId: 'correlationId' },
    quietReqLogger: true,
    autoLogging: { ignore: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0]) },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${redactCredentials(req.url ?? '')} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${redactCredentials(req.url ?? '')} ${res.statusCode}`,
    serializers: {
      // Never headers: they hold API keys and public access tokens.
      req: (req: { method: string; url: string }) => ({ method: req.method, url: redactCredentials(req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  }) as unknown as RequestHandler;
}

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
