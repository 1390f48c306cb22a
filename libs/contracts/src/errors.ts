/**
 * Error codes shared by the token-service (which raises them) and the gateway (which maps
 * them to HTTP). One table, so a code never means two statuses.
 */
export const ErrorCode = {
  ValidationFailed: 'validation_failed',
  TokenNotFound: 'token_not_found',
  TokenAlreadyFinished: 'token_already_finished',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  PayloadTooLarge: 'payload_too_large',
  ServiceUnavailable: 'service_unavailable',
  Internal: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const HTTP_STATUS_OF_ERROR: Record<ErrorCode, number> = {
  validation_failed: 400,
  token_not_found: 404,
  token_already_finished: 409,
  unauthorized: 401,
  forbidden: 403,
  payload_too_large: 413,
  service_unavailable: 503,
  internal_error: 500,
};

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

/** A failure a caller can act on; carried across NATS as `{ code, message }`. */
export class WaitpointError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WaitpointError';
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

export const tokenNotFound = (id: string) => new WaitpointError(ErrorCode.TokenNotFound, `Waitpoint token ${id} not found`);
