import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet, { contentSecurityPolicy } from 'helmet';
import { DASHBOARD } from '../dashboard/views/layout';
import { API_DOCS_PATH } from '../openapi/api-docs';

/** HSTS for one year once the gateway is reached over HTTPS; subdomains are the operator's call. */
const HSTS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

/**
 * Security headers on every response (helmet): nosniff, no framing, no referrer, same-origin
 * opener and resource policies, and HSTS when PUBLIC_URL is https. The Content-Security-Policy
 * depends on what is served:
 * - the REST API, /metrics, /health, /ready: JSON or text that loads nothing, so nothing at all;
 * - Swagger UI at /docs: its own scripts and styles (it styles elements inline), data: images, and
 *   requests to PUBLIC_URL ("Try it out");
 * - the dashboard sets its own, stricter headers (dashboard-http.ts), which stay as they were.
 *
 * No `upgrade-insecure-requests` (helmet's default): over plain http (local development) it
 * would send Swagger UI's assets to an https port that does not exist.
 */
export function securityHeaders(publicUrl: string): RequestHandler {
  const common = helmet({
    contentSecurityPolicy: false,
    strictTransportSecurity: new URL(publicUrl).protocol === 'https:' ? { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: false } : false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  const nothing = contentSecurityPolicy({
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  });
  const apiDocs = contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      // "Try it out" sends requests to the server the description names: PUBLIC_URL.
      connectSrc: ["'self'", new URL(publicUrl).origin],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  });
  const docs = `/${API_DOCS_PATH}`;
  return (req: Request, res: Response, next: NextFunction) => {
    common(req, res, (error?: unknown) => {
      if (error) return next(error);
      const path = req.path;
      if (path === DASHBOARD || path.startsWith(`${DASHBOARD}/`)) return next();
      const csp = path === docs || path.startsWith(`${docs}/`) ? apiDocs : nothing;
      csp(req, res, next);
    });
  };
}
