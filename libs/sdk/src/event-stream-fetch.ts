import { IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/** Statuses whose Response has no body (the Response constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * Opens a token's event stream (a GET that stays open until the token finishes) on a connection
 * of its own, with node:http, and hands it back as a fetch `Response`.
 *
 * Why not `fetch`: Node's fetch (undici) keeps one connection pool per origin and, for every
 * request, walks the pool's connections looking for an idle one. An open event stream holds its
 * connection, so a process waiting on thousands of tokens made every new request (a create, a
 * complete, the next stream) walk thousands of busy connections: measured in bench:peers, that
 * walk was a third of the waiting process's CPU, and the process, not the server, limited how
 * many waits per second it could open. A stream on its own connection leaves the pool to short
 * requests. A caller that passed its own `fetch` (configure({ fetch })) gets its streams
 * through it, as before.
 */
export function fetchEventStream(url: string, init: { headers: Record<string, string>; signal: AbortSignal }): Promise<Response> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    // agent: false — a connection of its own, closed when the stream ends (no pooling).
    const request = send(target, { method: 'GET', headers: init.headers, signal: init.signal, agent: false });
    request.once('error', reject);
    request.once('response', (response) => {
      const status = response.statusCode ?? 0;
      const headers = headersOf(response.headers);
      if (NULL_BODY_STATUSES.has(status)) {
        response.resume();
        resolve(new Response(null, { status, statusText: response.statusMessage, headers }));
        return;
      }
      // Errors after the answer (an abort, a cut connection) surface where the body is read.
      request.off('error', reject);
      request.on('error', () => undefined);
      const body = Readable.toWeb(response) as ReadableStream<Uint8Array>;
      resolve(new Response(body, { status, statusText: response.statusMessage, headers }));
    });
    request.end();
  });
}

function headersOf(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}
