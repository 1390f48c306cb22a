import { Body, Controller, Get, HttpCode, Inject, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiError } from '../../http/api-error';
import { problemsOf, readInto } from '../../http/request-validation';
import { DashboardErrorFilter } from '../dashboard-error.filter';
import { DASHBOARD_OPTIONS, DashboardOptions, isCrossSite } from '../dashboard-http';
import { DashboardSessions, SESSION_COOKIE, SESSION_TTL_MS } from '../session';
import { sessionOf } from '../signed-in.guard';
import { DASHBOARD } from '../views/layout';
import { loginPage } from '../views/login';
import { SignInForm } from './sign-in.form';

/**
 * Signing in to the dashboard with an API key, and out. The session lives in a signed cookie
 * scoped to the dashboard; the key itself is never stored (see session.ts).
 */
@ApiExcludeController()
@Controller('dashboard')
@UseFilters(DashboardErrorFilter)
export class SignInController {
  constructor(
    private readonly sessions: DashboardSessions,
    @Inject(DASHBOARD_OPTIONS) private readonly options: DashboardOptions,
  ) {}

  @Get('login')
  loginForm(@Req() req: Request, @Res() res: Response) {
    if (sessionOf(this.sessions, req)) return res.redirect(303, safeNext(req.query.next));
    const notice = req.query.signedOut !== undefined ? 'You are signed out.' : undefined;
    res.type('html').send(loginPage({ next: nextParam(req.query.next), notice }));
  }

  @Post('login')
  @HttpCode(200)
  login(@Req() req: Request, @Res() res: Response, @Body(readInto(SignInForm)) form: SignInForm) {
    if (isCrossSite(req, this.options.publicUrl)) {
      return res
        .status(403)
        .type('html')
        .send(loginPage({ error: 'Sign-in refused: the form was posted from another site.' }));
    }
    const [problem] = problemsOf(form);
    const signedIn = problem === undefined ? this.sessions.signIn(form.apiKey!.trim()) : undefined;
    if (!signedIn) {
      return res
        .status(401)
        .type('html')
        .send(loginPage({ next: nextParam(form.next), error: problem ?? 'That API key is not valid.' }));
    }
    res.cookie(SESSION_COOKIE, signedIn.cookie, {
      httpOnly: true,
      sameSite: 'strict',
      secure: this.options.publicUrl.startsWith('https:') || req.secure,
      path: DASHBOARD,
      maxAge: SESSION_TTL_MS,
    });
    res.redirect(303, safeNext(form.next));
  }

  @Post('logout')
  @HttpCode(200)
  logout(@Req() req: Request, @Res() res: Response) {
    // Without a session there is nothing to forge: the cookie is cleared all the same.
    const session = sessionOf(this.sessions, req);
    const csrf = (req.body as Record<string, unknown> | undefined)?.csrf;
    if (session && !this.sessions.checkCsrf(session, csrf)) throw new ApiError(403, 'The form expired; reload the page.');
    res.clearCookie(SESSION_COOKIE, { path: DASHBOARD, httpOnly: true, sameSite: 'strict' });
    res.redirect(303, `${DASHBOARD}/login?signedOut`);
  }
}

/** Only paths inside the dashboard; anything else (another site, `//host`) goes to the overview. */
function nextParam(value: unknown): string | undefined {
  return typeof value === 'string' && /^\/dashboard(\/|\?|$)/.test(value) && !/[\\]|\/\//.test(value) ? value : undefined;
}

function safeNext(value: unknown): string {
  return nextParam(value) ?? DASHBOARD;
}
