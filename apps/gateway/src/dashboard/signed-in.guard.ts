import { CanActivate, ExecutionContext, Inject, Injectable, createParamDecorator } from '@nestjs/common';
import type { Request } from 'express';
import { ApiError } from '../http/api-error';
import { SignInRequired } from './dashboard-error.filter';
import { DASHBOARD_OPTIONS, DashboardOptions, isCrossSite } from './dashboard-http';
import { DashboardSession, DashboardSessions, SESSION_COOKIE, readCookie } from './session';

type SessionRequest = Request & { dashboardSession?: DashboardSession };

/** The session the request's cookie carries, if it is valid. */
export function sessionOf(sessions: DashboardSessions, request: Request): DashboardSession | undefined {
  return sessions.verify(readCookie(request.headers.cookie, SESSION_COOKIE));
}

/**
 * Every page and action but sign-in: a valid session, or the browser goes to the sign-in form
 * (fragments answer 401; see DashboardErrorFilter). The session is then `@SignedIn()`.
 */
@Injectable()
export class SignedInGuard implements CanActivate {
  constructor(private readonly sessions: DashboardSessions) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<SessionRequest>();
    const session = sessionOf(this.sessions, request);
    if (!session) throw new SignInRequired();
    request.dashboardSession = session;
    return true;
  }
}

/** The session SignedInGuard let through, on a request it guarded. */
export function signedInSession(request: Request): DashboardSession {
  const session = (request as SessionRequest).dashboardSession;
  if (!session) throw new Error('no signed-in session: the route is not guarded by SignedInGuard');
  return session;
}

export const SignedIn = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  signedInSession(context.switchToHttp().getRequest<Request>()),
);

/**
 * Every action, after SignedInGuard: a form from one of the session's pages (it carries the
 * session's CSRF token), posted from this site. Checked before anything in the form is read.
 */
@Injectable()
export class SessionFormGuard implements CanActivate {
  constructor(
    private readonly sessions: DashboardSessions,
    @Inject(DASHBOARD_OPTIONS) private readonly options: DashboardOptions,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<SessionRequest>();
    const csrf = (request.body as Record<string, unknown> | undefined)?.csrf;
    if (isCrossSite(request, this.options.publicUrl) || !this.sessions.checkCsrf(signedInSession(request), csrf)) {
      throw new ApiError(403, 'This form is not from your current session (it may have expired): reload the page and try again.');
    }
    return true;
  }
}
