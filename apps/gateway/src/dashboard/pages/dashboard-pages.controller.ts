import { Controller, Get, Param, Query, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { TokenView } from '@waitpoints/contracts';
import { ApiError } from '../../http/api-error';
import { TokenIdPipe } from '../../tokens/token-id.pipe';
import { TokenServiceClient } from '../../transport/token-service.client';
import { TOKEN_ACTIONS, isTokenActionName } from '../actions/token-actions';
import { DashboardErrorFilter } from '../dashboard-error.filter';
import { SchedulerLateness } from '../scheduler-lateness';
import type { DashboardSession } from '../session';
import { SignedIn, SignedInGuard } from '../signed-in.guard';
import { TokenDetails } from '../token-details';
import { readFilters, toListQuery } from '../token-filters';
import { overviewFragment, overviewPage } from '../views/overview';
import { TokenDetailModel, tokenDetailFragment, tokenDetailPage } from '../views/token-detail';
import { TokenListModel, tokensFragment, tokensPage } from '../views/tokens';

type QueryString = Record<string, unknown>;

/**
 * The ops dashboard's pages: server-rendered over the same queries the REST API uses, scoped to
 * the session's environment. Each page has a fragment (`frag/…`) that its script re-reads on
 * every change, swapping the parts in place (see views/layout.ts).
 */
@ApiExcludeController()
@Controller('dashboard')
@UseFilters(DashboardErrorFilter)
@UseGuards(SignedInGuard)
export class DashboardPagesController {
  constructor(
    private readonly tokenService: TokenServiceClient,
    private readonly details: TokenDetails,
    private readonly lateness: SchedulerLateness,
  ) {}

  @Get()
  async overview(@SignedIn() session: DashboardSession, @Res() res: Response) {
    const [stats, lateness] = await this.overviewOf(session);
    res.type('html').send(overviewPage(session, stats, lateness));
  }

  @Get('frag/overview')
  async overviewLive(@SignedIn() session: DashboardSession, @Res() res: Response) {
    res.type('html').send(overviewFragment(...(await this.overviewOf(session))));
  }

  @Get('tokens')
  async tokens(@SignedIn() session: DashboardSession, @Query() rawQuery: QueryString, @Res() res: Response) {
    const model = await this.tokenList(session, rawQuery);
    res
      .status(model.page ? 200 : 400)
      .type('html')
      .send(tokensPage(session, model));
  }

  @Get('frag/tokens')
  async tokensLive(@SignedIn() session: DashboardSession, @Query() rawQuery: QueryString, @Res() res: Response) {
    const { page, error, ...model } = await this.tokenList(session, rawQuery);
    if (!page) throw ApiError.badRequest(error!);
    res.type('html').send(tokensFragment({ ...model, page }));
  }

  @Get('tokens/:id')
  async token(
    @SignedIn() session: DashboardSession,
    @Param('id', TokenIdPipe) tokenId: string,
    @Query() query: QueryString,
    @Res() res: Response,
  ) {
    const model = await this.details.read(session, tokenId);
    res.type('html').send(tokenDetailPage(session, { ...model, notice: doneNotice(query, model.token) }));
  }

  @Get('frag/tokens/:id')
  async tokenLive(@SignedIn() session: DashboardSession, @Param('id', TokenIdPipe) tokenId: string, @Res() res: Response) {
    res.type('html').send(tokenDetailFragment(await this.details.read(session, tokenId)));
  }

  /** The page of tokens the filters ask for, or why the filters are not valid (the page shows both). */
  private async tokenList(session: DashboardSession, rawQuery: QueryString): Promise<TokenListModel> {
    const now = new Date();
    const filters = readFilters(rawQuery);
    const query = toListQuery(filters, now);
    if (!query.ok) return { filters, error: query.message, now };
    return { filters, page: await this.tokenService.listTokens({ ...query.value, environment: session.environment }), now };
  }

  private overviewOf(session: DashboardSession) {
    return Promise.all([this.tokenService.tokenStats({ environment: session.environment }), this.lateness.read()]);
  }
}

/** After an action redirected here (`?done=<action>&changed=0|1`): what it did. */
function doneNotice(query: QueryString, token: TokenView): TokenDetailModel['notice'] {
  if (!isTokenActionName(query.done)) return undefined;
  if (query.changed === '1') return { kind: 'success', message: TOKEN_ACTIONS[query.done].done };
  return { kind: 'info', message: `Nothing changed: the token had already finished (${token.status}).` };
}
