import { HttpException } from '@nestjs/common';
import { ErrorBody, HTTP_STATUS_OF_ERROR } from '@waitpoints/contracts';

/** An HTTP error whose body is `{ "error": message }`, the shape the Trigger.dev SDK reads. */
export class ApiError extends HttpException {
  constructor(status: number, message: string) {
    super({ error: message }, status);
  }

  static from(body: ErrorBody): ApiError {
    return new ApiError(HTTP_STATUS_OF_ERROR[body.code] ?? 500, body.message);
  }

  static badRequest = (message: string) => new ApiError(400, message);
  static unauthorized = (message: string) => new ApiError(401, message);
  static forbidden = (message: string) => new ApiError(403, message);
  static notFound = (message: string) => new ApiError(404, message);
  static unavailable = (message: string) => new ApiError(503, message);
}
