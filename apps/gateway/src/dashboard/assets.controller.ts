import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { DASHBOARD_CSS, DASHBOARD_JS } from './assets';

/** The dashboard's stylesheet and script: no session needed (the sign-in page uses them too). */
@ApiExcludeController()
@Controller('dashboard/assets')
export class DashboardAssetsController {
  @Get('dashboard.css')
  css(@Res() res: Response) {
    res.type('text/css').setHeader('Cache-Control', 'public, max-age=3600').send(DASHBOARD_CSS);
  }

  @Get('dashboard.js')
  js(@Res() res: Response) {
    res.type('text/javascript').setHeader('Cache-Control', 'public, max-age=3600').send(DASHBOARD_JS);
  }
}
