import { Body, Controller, HttpCode, Param, Post, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { readInto } from '../../http/request-validation';
import { TokenIdPipe } from '../../tokens/token-id.pipe';
import { DashboardErrorFilter } from '../dashboard-error.filter';
import { SessionFormGuard, SignedInGuard } from '../signed-in.guard';
import { CancelTokenForm, CompleteTokenForm, TimeoutTokenForm } from './token-action-forms';
import { TokenActionFlow } from './token-action-flow';
import { TOKEN_ACTIONS } from './token-actions';

/**
 * The token page's actions: form POSTs sending the same commands as the REST API, recorded as
 * done from the dashboard, each confirmed first (see TokenActionFlow).
 */
@ApiExcludeController()
@Controller('dashboard/tokens/:id')
@UseFilters(DashboardErrorFilter)
@UseGuards(SignedInGuard, SessionFormGuard)
export class TokenActionsController {
  constructor(private readonly flow: TokenActionFlow) {}

  @Post('complete')
  @HttpCode(200)
  complete(
    @Param('id', TokenIdPipe) tokenId: string,
    @Body(readInto(CompleteTokenForm)) form: CompleteTokenForm,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.flow.run(TOKEN_ACTIONS.complete, { tokenId, form, req, res });
  }

  @Post('timeout')
  @HttpCode(200)
  timeout(
    @Param('id', TokenIdPipe) tokenId: string,
    @Body(readInto(TimeoutTokenForm)) form: TimeoutTokenForm,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.flow.run(TOKEN_ACTIONS.timeout, { tokenId, form, req, res });
  }

  @Post('cancel')
  @HttpCode(200)
  cancel(
    @Param('id', TokenIdPipe) tokenId: string,
    @Body(readInto(CancelTokenForm)) form: CancelTokenForm,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    return this.flow.run(TOKEN_ACTIONS.cancel, { tokenId, form, req, res });
  }
}
