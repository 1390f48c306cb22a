import type { Express, NextFunction, Request, Response } from 'express';
import { urlencoded } from 'express';
import { MiB } from '../http/body-parsers';
import { html } from './html';
import { DASHBOARD } from './views/layout';

/** Outputs are limited to 3 MiB as on the API; URL-encoding can triple a JSON text. */
export const MAX_FORM_BYTES = 10 * MiB;

export const DASHBOARD_OPTIONS = Symbol('DashboardOptions');
export interface DashboardOptions {
  /** Origin users reach the gateway at; its scheme decides the cookie's Secure flag. */
  publicUrl: string;
}

/**
 * HTTP plumbing of the dashboard pages: strict security headers (no inline script, no
 * framing, nothing cached) and form-body parsing. The API routes keep their own parsers.
 */
export function registerDashboardHttp(express: Express): void {
  const readForm = urlencoded({ extended: false, limit: MAX_FORM_BYTES, parameterLimit: 50 });
  express.use(DASHBOARD, (req: Request, res: Response, next: NextFunction) => {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'same-origin');
    if (!req.path.startsWith('/assets/')) res.setHeader('Cache-Control', 'no-store');
    if (req.method !== 'POST') return next();
    readForm(req, res, (error?: unknown) => {
      if (!error) return next();
      const tooLarge = (error as { type?: string }).type === 'entity.too.large';
      res
        .status(tooLarge ? 413 : 400)
        .type('html')
        .send(
          html`<!doctype html><title>Form refused</title><p>${
            tooLarge ? 'The form is too large: payloads are limited to 3 MiB.' : 'The form could not be read.'
          } <a href="${DASHBOARD}">Back to the dashboard</a></p>`.value,
        );
    });
  });
}

/**
 * A POST that a browser marks as coming from another site is refused (login CSRF and the
 * like). Requests without these headers (old browsers, scripts) rely on the CSRF token alone.
 */
export function isCrossSite(req: Request, publicUrl: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = req.headers.origin;
  if (!origin || origin === 'null') return origin === 'null';
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return true;
  }
  return host !== req.headers.host && host !== new URL(publicUrl).host;
}
