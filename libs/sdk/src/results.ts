import { WaitpointCancelledError, WaitpointRejectedError, WaitpointTimeoutError } from './errors';
import { WireToken } from './types';

/** How a token ended without a completion. */
export type WaitpointError = WaitpointTimeoutError | WaitpointCancelledError | WaitpointRejectedError;

export type WaitpointResult<T> = { ok: true; id: string; output: T } | { ok: false; id: string; error: WaitpointError };

/** A promise with `.unwrap()`: the output, or a throw of the result's error. */
export class UnwrappablePromise<R, O> extends Promise<R> {
  // Promise methods (then, catch, finally) return plain promises, not this class.
  static override get [Symbol.species]() {
    return Promise;
  }

  private unwrapWith?: (result: R) => O;

  static from<R, O>(work: Promise<R>, unwrap: (result: R) => O): UnwrappablePromise<R, O> {
    const promise = new UnwrappablePromise<R, O>((resolve, reject) => work.then(resolve, reject));
    promise.unwrapWith = unwrap;
    return promise;
  }

  unwrap(): Promise<O> {
    return this.then((result) => this.unwrapWith!(result));
  }
}

/** What `wait.forToken` returns: `await` it for the result, or `.unwrap()` it for the output. */
export type WaitpointPromise<T> = UnwrappablePromise<WaitpointResult<T>, T>;

export function unwrapResult<T>(result: WaitpointResult<T>): T {
  if (result.ok) return result.output;
  throw result.error;
}

/** Outputs are JSON text (`application/json`); plain text is passed through as it is. */
export function decodeOutput(output: string | undefined, outputType: string | undefined): unknown {
  if (output === undefined) return undefined;
  if (outputType === 'text/plain') return output;
  try {
    return JSON.parse(output);
  } catch {
    return output;
  }
}

const DEFAULT_MESSAGE: Partial<Record<WireToken['status'], string>> = {
  TIMED_OUT: 'Waitpoint timed out',
  CANCELLED: 'Waitpoint cancelled',
  REJECTED: 'Waitpoint rejected',
};

/**
 * The error of a token that ended without a completion, or undefined. A rejected token reads as
 * REJECTED, or (where the server took us for Trigger.dev's SDK) as COMPLETED with outputIsError.
 */
export function errorOf(token: WireToken): WaitpointError | undefined {
  const status = token.status === 'COMPLETED' && token.outputIsError ? 'REJECTED' : token.status;
  const fallback = DEFAULT_MESSAGE[status];
  if (fallback === undefined) return undefined;
  const parsed = decodeOutput(token.output, token.outputType) as { message?: unknown; code?: unknown } | undefined;
  const message = typeof parsed?.message === 'string' ? parsed.message : fallback;
  if (status === 'REJECTED')
    return new WaitpointRejectedError(message, typeof parsed?.code === 'string' ? parsed.code : 'WAITPOINT_REJECTED', token.id);
  return status === 'TIMED_OUT' ? new WaitpointTimeoutError(message, token.id) : new WaitpointCancelledError(message, token.id);
}

/** The result of a finished token (undefined while it waits). */
export function resultOf<T>(token: WireToken): WaitpointResult<T> | undefined {
  if (token.status === 'WAITING') return undefined;
  const error = errorOf(token);
  if (error) return { ok: false, id: token.id, error };
  return { ok: true, id: token.id, output: decodeOutput(token.output, token.outputType) as T };
}
