import { parseDuration } from '@waitpoints/contracts';
import { ApiError, WaitLimitExceededError } from './errors';
import { HttpTransport, backoffMs, errorFromResponse, isRetryableStatus, sleep } from './http';
import { WaitpointResult, resultOf } from './results';
import { readServerSentEvents } from './sse';
import { TokenRef, WaitOptions, WireToken } from './types';

export const tokenIdOf = (ref: TokenRef): string => {
  const id = typeof ref === 'string' ? ref : ref?.id;
  if (typeof id !== 'string' || id.trim() === '') throw new TypeError('Expected a token id (waitpoint_…) or an object with an id');
  return id;
};

export const tokenPath = (id: string) => `/api/v1/waitpoints/tokens/${encodeURIComponent(id)}`;

/**
 * Waits for one token on its event stream (`GET …/tokens/:id/events`).
 *
 * The server subscribes to the token's events before it reads the token, so the first state
 * it sends already includes any completion that happened before the request, and nothing
 * after it is missed. If the stream breaks (network, gateway restart), this reconnects with
 * `Last-Event-ID` and resumes where it stopped. It waits as long as it takes, unless the
 * signal aborts or `maxWait` passes; auth, not-found and validation errors are thrown at once.
 */
export async function waitForToken<T>(http: HttpTransport, ref: TokenRef, options: WaitOptions = {}): Promise<WaitpointResult<T>> {
  const id = tokenIdOf(ref);
  const limit = waitLimit(id, options);
  try {
    return await follow<T>(http, id, limit.signal, options.onState);
  } finally {
    limit.dispose();
  }
}

async function follow<T>(
  http: HttpTransport,
  id: string,
  signal: AbortSignal | undefined,
  onState: WaitOptions['onState'],
): Promise<WaitpointResult<T>> {
  let lastEventId: string | undefined;
  let failures = 0;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const headers = http.headers({ accept: 'text/event-stream' });
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      // The stream closes when the loop below leaves it (a result, an error: the body's iterator
      // is returned, which destroys the connection) or when the caller's signal aborts. Not the
      // caller's signal itself: an application often passes one signal to thousands of waits,
      // and each listener added to it is checked against all the others; a signal that follows
      // it (AbortSignal.any) is held weakly instead.
      const streamSignal = signal ? AbortSignal.any([signal]) : undefined;
      const response = await http.options.openStream(http.url(`${tokenPath(id)}/events`), { headers, signal: streamSignal });
      if (response.status === 204) {
        // Nothing newer than what we saw: only possible if our state is stale; ask plainly.
        const { body } = await http.request<WireToken>(tokenPath(id), { signal });
        const result = resultOf<T>(body);
        if (result) return result;
        lastEventId = undefined;
      } else if (!response.ok || !response.body) {
        throw await errorFromResponse(response);
      } else {
        for await (const message of readServerSentEvents(response.body)) {
          if (message.event !== 'token') continue;
          const token = JSON.parse(message.data) as WireToken;
          if (message.lastEventId !== '') lastEventId = message.lastEventId;
          failures = 0;
          onState?.({ id: token.id, status: token.status });
          const result = resultOf<T>(token);
          if (result) return result;
        }
      }
      // The stream ended before the token did (e.g. the gateway restarted): reconnect.
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof ApiError && !isRetryableStatus(error.status)) throw error;
      // Network failure or 5xx: keep trying, the token is still worth waiting for.
    }
    await sleep(backoffMs(failures++), signal);
  }
}

/** The caller's signal, plus `maxWait` as an abort with WaitLimitExceededError. */
export function waitLimit(id: string, options: WaitOptions): { signal?: AbortSignal; dispose(): void } {
  if (options.maxWait === undefined) return { signal: options.signal, dispose: () => undefined };
  const maxWaitMs = typeof options.maxWait === 'number' ? options.maxWait : parseDuration(options.maxWait);
  if (maxWaitMs === undefined || !Number.isFinite(maxWaitMs) || maxWaitMs <= 0) {
    throw new RangeError(`maxWait "${options.maxWait}" must be a positive number of milliseconds or a duration such as 30s or 10m`);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new WaitLimitExceededError(id, maxWaitMs)), maxWaitMs);
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  return { signal, dispose: () => clearTimeout(timer) };
}
