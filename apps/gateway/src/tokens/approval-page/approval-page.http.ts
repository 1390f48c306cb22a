import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { urlencoded } from 'express';
import { KiB } from '../../http/body-parsers';
import { APPROVAL_PAGE_HEADERS, approvalMessagePage } from './approval-page.view';

/** The approval page's route, as Express writes it (the body parser is registered on it in app.ts). */
export const APPROVAL_PAGE_ROUTE = '/api/v1/waitpoints/tokens/:id/approval/:hash';

/** A comment of 4,000 characters, URL-encoded, fits with room to spare. */
const MAX_APPROVAL_FORM_BYTES = 64 * KiB;

/** Reads the approval form (application/x-www-form-urlencoded); a body it cannot read is answered as a page. */
export function approvalFormBody(): RequestHandler {
  const readForm = urlencoded({ extended: false, limit: MAX_APPROVAL_FORM_BYTES, parameterLimit: 10 });
  return (req: Request, res: Response, next: NextFunction) =>
    readForm(req, res, (error?: unknown) => {
      if (!error) return next();
      const tooLarge = (error as { type?: string }).type === 'entity.too.large';
      sendApprovalPage(
        res,
        tooLarge ? 413 : 400,
        approvalMessagePage('Form refused', tooLarge ? 'The form is too large.' : 'The form could not be read.'),
      );
    });
}

export function sendApprovalPage(res: Response, status: number, page: string): void {
  for (const [name, value] of Object.entries(APPROVAL_PAGE_HEADERS)) res.setHeader(name, value);
  res.status(status).type('html').send(page);
}

/**
 * Why a POST must be refused as cross-site, if it must: browsers that send Sec-Fetch-Site say
 * so directly; an Origin or Referer naming another host is refused too. Our own page sends
 * `Origin: null` (its Referrer-Policy is no-referrer, so browsers serialize the origin as null)
 * and no Referer: absent and null origins rely on the form token alone, which is the check
 * that always applies.
 */
export function crossSiteProblem(req: Request, publicUrl: string): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return 'The form was sent from another site.';
  const ownHosts = new Set([req.headers.host, new URL(publicUrl).host]);
  const origin = req.headers.origin;
  if (origin && origin !== 'null' && !ownHosts.has(hostOf(origin))) return 'The form was sent from another origin.';
  const referer = req.headers.referer;
  if (referer && !ownHosts.has(hostOf(referer))) return 'The form was sent from another page.';
  return undefined;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}
