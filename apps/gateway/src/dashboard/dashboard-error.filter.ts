import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { html } from './html';
import { DASHBOARD } from './views/layout';
import { messagePage } from './views/token-detail';

/** No valid session: pages send the browser to the sign-in form, fragments answer 401. */
export class SignInRequired extends Error {
  constructor() {
    super('Sign in to use the dashboard');
  }
}

const TITLES: Record<number, string> = {
  400: 'That request was not valid',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Not possible',
  503: 'Service unavailable',
};

/** Dashboard errors as HTML pages (the API's routes keep answering `{ "error": … }`). */
@Catch()
export class DashboardErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Dashboard');

  catch(exception: unknown, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    const isFragment = req.path.startsWith(`${DASHBOARD}/frag/`);

    if (exception instanceof SignInRequired) {
      if (isFragment) return void res.status(401).type('html').send('Sign in again.');
      const next = req.method === 'GET' ? `?next=${encodeURIComponent(req.originalUrl)}` : '';
      return void res.redirect(303, `${DASHBOARD}/login${next}`);
    }

    let status = 500;
    let message = 'Something went wrong on our side; it has been logged.';
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      const body = exception.getResponse() as { error?: unknown; message?: unknown } | string;
      message =
        typeof body === 'string'
          ? body
          : typeof body.error === 'string'
            ? body.error
            : typeof body.message === 'string'
              ? body.message
              : exception.message;
    } else {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    if (isFragment)
      return void res
        .status(status)
        .type('html')
        .send(html`${message}`.value);
    res
      .status(status)
      .type('html')
      .send(messagePage(undefined, TITLES[status] ?? 'Error', message));
  }
}
