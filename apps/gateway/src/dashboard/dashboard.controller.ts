import { Controller, Get, HttpCode, HttpException, Inject, Param, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import {
  JSON_OUTPUT_TYPE,
  MessageMetadata,
  TokenView,
  isInternalTokenId,
  toFriendlyTokenId,
  toInternalTokenId,
} from '@waitpoints/contracts';
import { ApiError } from '../http/api-error';
import { correlationIdOf } from '../http/correlation-id';
import { MAX_OUTPUT_DEPTH, outputJson } from '../tokens/output-json';
import { TokenLinks } from '../tokens/token-links';
import { TokenServiceClient } from '../transport/token-service.client';
import { DASHBOARD_CSS, DASHBOARD_JS } from './assets';
import { DashboardErrorFilter, SignInRequired } from './dashboard-error.filter';
import { MAX_PAYLOAD_BYTES, isCrossSite } from './dashboard-http';
import { SchedulerLateness } from './scheduler-lateness';
import { DashboardSession, DashboardSessions, SESSION_COOKIE, SESSION_TTL_MS, readCookie } from './session';
import { readFilters, toListQuery } from './token-filters';
import { DASHBOARD } from './views/layout';
import { loginPage } from './views/login';
import { overviewFragment, overviewPage } from './views/overview';
import { confirmPage, tokenDetailFragment, tokenDetailPage, TokenDetailModel } from './views/token-detail';
import { tokensFragment, tokensPage } from './views/tokens';
import { prettyJson } from './views/format';

export const DASHBOARD_OPTIONS = Symbol('DashboardOptions');
export interface DashboardOptions {
  /** Origin users reach the gateway at; its scheme decides the cookie's Secure flag. */
  publicUrl: string;
}

type Form = Record<string, unknown>;
type Action = 'complete' | 'timeout' | 'cancel';

const DONE_MESSAGES: Record<Action, string> = {
  complete: 'Token completed. Its waiters resume with the payload as output.',
  timeout: 'Token timed out now. Its waiters receive a timeout error.',
  cancel: 'Token cancelled. Its waiters receive a cancellation error.',
};

/**
 * The ops dashboard: server-rendered pages over the same commands and queries the REST API
 * uses. Signed in with an API key (its environment scopes everything); actions are form POSTs
 * carrying the session's CSRF token, each confirmed first, answered with a redirect (POST →
 * redirect → GET) to the page showing the result.
 */
@ApiExcludeController()
@Controller('dashboard')
@UseFilters(DashboardErrorFilter)
export class DashboardController {
  constructor(
    private readonly tokenService: TokenServiceClient,
    private readonly links: TokenLinks,
    private readonly sessions: DashboardSessions,
    private readonly lateness: SchedulerLateness,
    @Inject(DASHBOARD_OPTIONS) private readonly options: DashboardOptions,
  ) {}

  // ---- assets, sign-in ---------------------------------------------------------------

  @Get('assets/dashboard.css')
  css(@Res() res: Response) {
    res.type('text/css').setHeader('Cache-Control', 'public, max-age=3600');
    res.send(DASHBOARD_CSS);
  }

  @Get('assets/dashboard.js')
  js(@Res() res: Response) {
    res.type('text/javascript').setHeader('Cache-Control', 'public, max-age=3600');
    res.send(DASHBOARD_JS);
  }

  @Get('login')
  loginForm(@Req() req: Request, @Res() res: Response) {
    if (this.session(req)) return res.redirect(303, safeNext(req.query.next));
    const notice = req.query.signedOut !== undefined ? 'You are signed out.' : undefined;
    res.type('html').send(loginPage({ next: nextParam(req.query.next), notice }));
  }

  @Post('login')
  @HttpCode(200)
  login(@Req() req: Request, @Res() res: Response) {
    const form = (req.body ?? {}) as Form;
    if (isCrossSite(req, this.options.publicUrl)) {
      return res.status(403).type('html').send(loginPage({ error: 'Sign-in refused: the form was posted from another site.' }));
    }
    const apiKey = typeof form.apiKey === 'string' ? form.apiKey.trim() : '';
    const signedIn = apiKey ? this.sessions.signIn(apiKey) : undefined;
    if (!signedIn) {
      return res
        .status(401)
        .type('html')
        .send(loginPage({ next: nextParam(form.next), error: apiKey ? 'That API key is not valid.' : 'Enter an API key.' }));
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
    const session = this.session(req);
    if (session && !this.sessions.checkCsrf(session, (req.body as Form)?.csrf)) throw new ApiError(403, 'The form expired; reload the page.');
    res.clearCookie(SESSION_COOKIE, { path: DASHBOARD, httpOnly: true, sameSite: 'strict' });
    res.redirect(303, `${DASHBOARD}/login?signedOut`);
  }

  // ---- overview --------------------------------------------------------------------

  @Get()
  async overview(@Req() req: Request, @Res() res: Response) {
    const session = this.requireSession(req);
    const [stats, lateness] = await Promise.all([
      this.tokenService.tokenStats({ environment: session.environment }),
      this.lateness.read(),
    ]);
    res.type('html').send(overviewPage(session, stats, lateness));
  }

  @Get('frag/overview')
  async overviewLive(@Req() req: Request, @Res() res: Response) {
    const session = this.requireSession(req);
    const [stats, lateness] = await Promise.all([
      this.tokenService.tokenStats({ environment: session.environment }),
      this.lateness.read(),
    ]);
    res.type('html').send(overviewFragment(stats, lateness));
  }

  // ---- token list --------------------------------------------------------------------

  @Get('tokens')
  async tokens(@Req() req: Request, @Res() res: Response) {
    const session = this.requireSession(req);
    const now = new Date();
    const filters = readFilters(req.query as Form);
    const query = toListQuery(filters, now);
    if (!query.ok) return res.status(400).type('html').send(tokensPage(session, { filters, error: query.message, now }));
    const page = await this.tokenService.listTokens({ ...query.value, environment: session.environment });
    res.type('html').send(tokensPage(session, { filters, page, now }));
  }

  @Get('frag/tokens')
  async tokensLive(@Req() req: Request, @Res() res: Response) {
    const session = this.requireSession(req);
    const now = new Date();
    const filters = readFilters(req.query as Form);
    const query = toListQuery(filters, now);
    if (!query.ok) throw ApiError.badRequest(query.message);
    const page = await this.tokenService.listTokens({ ...query.value, environment: session.environment });
    res.type('html').send(tokensFragment({ filters, page, now }));
  }

  // ---- token detail ------------------------------------------------------------------

  @Get('tokens/:id')
  async token(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const session = this.requireSession(req);
    const model = await this.detail(session, tokenIdParam(id));
    const notice = doneNotice(req.query, model.token);
    res.type('html').send(tokenDetailPage(session, { ...model, notice }));
  }

  @Get('frag/tokens/:id')
  async tokenLive(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const session = this.requireSession(req);
    res.type('html').send(tokenDetailFragment(await this.detail(session, tokenIdParam(id))));
  }

  // ---- actions -----------------------------------------------------------------------

  @Post('tokens/:id/complete')
  @HttpCode(200)
  async complete(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const { session, form, tokenId } = this.actionRequest(req, id);
    const draft = typeof form.data === 'string' ? form.data : '';
    const payload = parsePayload(draft);
    if (!payload.ok) {
      const model = await this.detail(session, tokenId);
      return res.status(400).type('html').send(
        tokenDetailPage(session, {
          ...model,
          completeDraft: draft,
          completeError: payload.message,
          notice: { kind: 'error', message: `Not completed: ${payload.message}` },
        }),
      );
    }
    if (form.confirmed !== 'yes') {
      return res.type('html').send(
        confirmPage(session, {
          tokenId: toFriendlyTokenId(tokenId),
          action: 'complete',
          question: `Complete ${toFriendlyTokenId(tokenId)} with this payload? Its waiters resume with it as the output.`,
          fields: { data: draft },
          preview: prettyJson(payload.output),
        }),
      );
    }
    await this.act(res, session, tokenId, 'complete', () =>
      this.tokenService.completeToken({
        environment: session.environment,
        tokenId,
        output: payload.output,
        outputType: JSON_OUTPUT_TYPE,
        channel: 'dashboard',
        metadata: this.metadata(req, session),
      }),
    );
  }

  @Post('tokens/:id/timeout')
  @HttpCode(200)
  async timeout(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const { session, form, tokenId } = this.actionRequest(req, id);
    if (form.confirmed !== 'yes') {
      return res.type('html').send(
        confirmPage(session, {
          tokenId: toFriendlyTokenId(tokenId),
          action: 'timeout',
          question: `Time out ${toFriendlyTokenId(tokenId)} now, before its deadline? Its waiters receive a timeout error.`,
          fields: {},
        }),
      );
    }
    await this.act(res, session, tokenId, 'timeout', () =>
      this.tokenService.timeoutToken({
        environment: session.environment,
        tokenId,
        force: true,
        metadata: this.metadata(req, session),
      }),
    );
  }

  @Post('tokens/:id/cancel')
  @HttpCode(200)
  async cancel(@Req() req: Request, @Res() res: Response, @Param('id') id: string) {
    const { session, form, tokenId } = this.actionRequest(req, id);
    const reason = typeof form.reason === 'string' && form.reason.trim() ? form.reason.trim().slice(0, 1000) : undefined;
    if (form.confirmed !== 'yes') {
      return res.type('html').send(
        confirmPage(session, {
          tokenId: toFriendlyTokenId(tokenId),
          action: 'cancel',
          question: `Cancel ${toFriendlyTokenId(tokenId)}? Its waiters receive a cancellation error.`,
          fields: reason ? { reason } : {},
        }),
      );
    }
    await this.act(res, session, tokenId, 'cancel', () =>
      this.tokenService.cancelToken({
        environment: session.environment,
        tokenId,
        reason,
        metadata: this.metadata(req, session),
      }),
    );
  }

  // ---- helpers -----------------------------------------------------------------------

  private session(req: Request): DashboardSession | undefined {
    return this.sessions.verify(readCookie(req.headers.cookie, SESSION_COOKIE));
  }

  private requireSession(req: Request): DashboardSession {
    const session = this.session(req);
    if (!session) throw new SignInRequired();
    return session;
  }

  /** Every action: a signed-in session, a form from one of its pages, posted from this site. */
  private actionRequest(req: Request, id: string) {
    const session = this.requireSession(req);
    const form = (req.body ?? {}) as Form;
    if (isCrossSite(req, this.options.publicUrl) || !this.sessions.checkCsrf(session, form.csrf)) {
      throw new ApiError(403, 'This form is not from your current session (it may have expired): reload the page and try again.');
    }
    return { session, form, tokenId: tokenIdParam(id) };
  }

  /** Runs a command; on success redirects to the token's page with the outcome, else shows why there. */
  private async act(
    res: Response,
    session: DashboardSession,
    tokenId: string,
    action: Action,
    command: () => Promise<{ changed: boolean }>,
  ): Promise<void> {
    const friendly = toFriendlyTokenId(tokenId);
    try {
      const { changed } = await command();
      res.redirect(303, `${DASHBOARD}/tokens/${friendly}?done=${action}&changed=${changed ? 1 : 0}`);
    } catch (error) {
      // Not found or the service is down: the error page says so. A refusal (409) is shown on the token.
      if (!(error instanceof HttpException) || error.getStatus() !== 409) throw error;
      const model = await this.detail(session, tokenId);
      res.status(409).type('html').send(
        tokenDetailPage(session, { ...model, notice: { kind: 'error', message: messageOf(error) } }),
      );
    }
  }

  private async detail(session: DashboardSession, tokenId: string): Promise<TokenDetailModel> {
    const query = { environment: session.environment, tokenId };
    const [token, history] = await Promise.all([this.tokenService.getToken(query), this.tokenService.tokenHistory(query)]);
    return { token, events: history.events, callbackUrl: this.links.callbackUrl(tokenId), now: new Date() };
  }

  private metadata(req: Request, session: DashboardSession): MessageMetadata {
    return { correlationId: correlationIdOf(req), actor: { type: 'dashboard', id: session.environment } };
  }
}

function tokenIdParam(raw: string): string {
  const id = toInternalTokenId(raw);
  if (!isInternalTokenId(id)) throw ApiError.notFound(`Waitpoint token ${raw.slice(0, 100)} not found`);
  return id;
}

/** The same rules as the API's complete route: any JSON value, at most 3 MiB. */
export function parsePayload(text: string): { ok: true; output: string } | { ok: false; message: string } {
  if (text.trim() === '') return { ok: false, message: 'enter a JSON value, for example {"approved": true}, {} or null' };
  if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) return { ok: false, message: 'the payload is larger than 3 MiB' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `the payload is not valid JSON (${(error as Error).message})` };
  }
  const output = outputJson(value);
  if (output === null) return { ok: false, message: `the payload is nested deeper than ${MAX_OUTPUT_DEPTH} levels` };
  return { ok: true, output };
}

function doneNotice(query: Request['query'], token: TokenView): TokenDetailModel['notice'] {
  const action = query.done;
  if (action !== 'complete' && action !== 'timeout' && action !== 'cancel') return undefined;
  if (query.changed === '1') return { kind: 'success', message: DONE_MESSAGES[action] };
  return { kind: 'info', message: `Nothing changed: the token had already finished (${token.status}).` };
}

function messageOf(error: HttpException): string {
  const body = error.getResponse();
  return typeof body === 'object' && body && typeof (body as { error?: unknown }).error === 'string'
    ? (body as { error: string }).error
    : error.message;
}

/** Only paths inside the dashboard; anything else (another site, `//host`) goes to the overview. */
function nextParam(value: unknown): string | undefined {
  return typeof value === 'string' && /^\/dashboard(\/|\?|$)/.test(value) && !/[\\]|\/\//.test(value) ? value : undefined;
}

function safeNext(value: unknown): string {
  return nextParam(value) ?? DASHBOARD;
}
