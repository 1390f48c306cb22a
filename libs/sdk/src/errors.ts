/**
 * Every error the SDK throws. HTTP failures carry the server's status and its message
 * (the `error` field of the body); token outcomes that are not a completion are results,
 * not throws, until `.unwrap()` turns them into one.
 */
export class WaitpointsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The server answered with an error status. */
export class ApiError extends WaitpointsError {
  constructor(
    readonly status: number,
    message: string,
    /** The `x-request-id` of the failed request (quote it when asking for help). */
    readonly requestId?: string,
  ) {
    super(message);
  }
}

/** 400: the request was invalid (the message names the field and what to send instead). */
export class ValidationError extends ApiError {}
/** 401: missing, unknown or expired credentials. */
export class AuthenticationError extends ApiError {}
/** 403: the public access token is valid but not for this token. */
export class PermissionDeniedError extends ApiError {}
/** 404: no such token in the key's environment. */
export class NotFoundError extends ApiError {}
/** 409: the token is in a state that forbids the change (e.g. cancelling a completed token). */
export class ConflictError extends ApiError {}
/** 413: the body is over the route's limit. */
export class PayloadTooLargeError extends ApiError {}
/** 5xx: the server could not handle the request; retried before it is thrown. */
export class ServerError extends ApiError {}

/** The server could not be reached at all (connection refused, reset, DNS). */
export class ConnectionError extends WaitpointsError {}

/** No secret key was configured. */
export class MissingCredentialsError extends WaitpointsError {}

export function apiErrorFor(status: number, message: string, requestId?: string): ApiError {
  const Kind =
    status === 400
      ? ValidationError
      : status === 401
        ? AuthenticationError
        : status === 403
          ? PermissionDeniedError
          : status === 404
            ? NotFoundError
            : status === 409
              ? ConflictError
              : status === 413
                ? PayloadTooLargeError
                : status >= 500
                  ? ServerError
                  : ApiError;
  return new Kind(status, message, requestId);
}

/** A token ended without a completion: it reached its timeout. */
export class WaitpointTimeoutError extends WaitpointsError {
  constructor(
    message: string,
    readonly tokenId?: string,
  ) {
    super(message);
  }
}

/** A token ended without a completion: it was cancelled (a Waitpoints extension). */
export class WaitpointCancelledError extends WaitpointsError {
  constructor(
    message: string,
    readonly tokenId?: string,
  ) {
    super(message);
  }
}

/** A token ended without a completion: it was rejected with an error (a Waitpoints extension). */
export class WaitpointRejectedError extends WaitpointsError {
  constructor(
    message: string,
    /** The code the token was rejected with (`WAITPOINT_REJECTED` when none was given). */
    readonly code: string,
    readonly tokenId?: string,
  ) {
    super(message);
  }
}

/** `forToken` gave up after its `maxWait`; the token itself may still be waiting. */
export class WaitLimitExceededError extends WaitpointsError {
  constructor(
    readonly tokenId: string,
    readonly maxWaitMs: number,
  ) {
    super(`Stopped waiting for ${tokenId} after ${maxWaitMs} ms (maxWait); the token may still be WAITING`);
  }
}
