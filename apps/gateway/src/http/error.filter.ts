import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';

/** Every error leaves the gateway as JSON `{ "error": "<message>" }`; never HTML, never a stack. */
@Catch()
export class JsonErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (response.headersSent) return;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      response.status(status).json({ error: errorMessage(body, exception.message) });
      return;
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    response.status(500).json({ error: 'Internal server error' });
  }
}

function errorMessage(body: string | object, fallback: string): string {
  if (typeof body === 'string') return body;
  const record = body as { error?: unknown; message?: unknown };
  if (typeof record.error === 'string' && record.message === undefined) return record.error;
  if (Array.isArray(record.message)) return record.message.join('; ');
  if (typeof record.message === 'string') return record.message;
  return fallback;
}
