import { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * What the SDK reads of an HTTP answer: the part of a fetch `Response` it uses, so that an
 * answer from node:http (the default) and one from a caller's own `fetch` read the same.
 */
export interface HttpAnswer {
  readonly status: number;
  readonly ok: boolean;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** An answer whose body is still arriving: a token's event stream. */
export interface StreamingAnswer extends HttpAnswer {
  /** The body as it arrives; ended when the stream ends, destroyed when the reader stops early. */
  readonly body: AsyncIterable<Uint8Array | string> | null;
}

export interface HttpExchange {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Most time the connection may stay silent before the answer is complete (node:http only). */
  timeoutMs?: number;
}

/** A request answered in full (JSON calls). */
export type SendRequest = (url: string, exchange: HttpExchange) => Promise<HttpAnswer>;
/** A GET whose answer stays open (event streams). */
export type OpenStream = (url: string, exchange: { headers: Record<string, string>; signal?: AbortSignal }) => Promise<StreamingAnswer>;

/**
 * The SDK's own HTTP, on node:http rather than Node's global fetch (undici): measured on the same
 * machine, alternated in one process with a local server, a JSON POST through fetch cost 2.1–2.6×
 * the CPU (client and server together) of the same request through node:http with a keep-alive
 * agent (fetch builds WHATWG streams, headers and abort signals per request). Short requests share one keep-alive pool per process; event streams each
 * get a connection of their own, closed when the stream ends: an open stream holds its connection,
 * and a pool full of held connections would be walked by every short request.
 */
export const nodeTransport: { send: SendRequest; openStream: OpenStream } = {
  send: async (url, exchange) => {
    const response = await exchangeOverNode(url, exchange, 'pooled');
    return new NodeAnswer(response, await readText(response));
  },
  openStream: async (url, { headers, signal }) => {
    const response = await exchangeOverNode(url, { method: 'GET', headers, signal }, 'own connection');
    response.setEncoding('utf8');
    return new NodeAnswer(response);
  },
};

/** Everything goes through the caller's own `fetch` (tests, proxies, instrumentation). */
export function fetchTransport(fetchImpl: typeof fetch): { send: SendRequest; openStream: OpenStream } {
  return {
    // The caller's fetch has its own timeouts.
    send: (url, { method, headers, body, signal }) => fetchImpl(url, { method, headers, body, signal }),
    openStream: (url, exchange) => fetchImpl(url, { method: 'GET', ...exchange }) as Promise<StreamingAnswer>,
  };
}

const POOLS = { 'http:': new HttpAgent({ keepAlive: true }), 'https:': new HttpsAgent({ keepAlive: true }) };

function exchangeOverNode(url: string, exchange: HttpExchange, connection: 'pooled' | 'own connection'): Promise<IncomingMessage> {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return Promise.reject(new TypeError(`${target.protocol} is not an HTTP address (${url})`));
  }
  const headers =
    exchange.body === undefined ? exchange.headers : { ...exchange.headers, 'content-length': String(Buffer.byteLength(exchange.body)) };
  const attempt = (): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(target, {
        method: exchange.method,
        headers,
        signal: exchange.signal,
        agent: connection === 'pooled' ? POOLS[target.protocol as keyof typeof POOLS] : false,
      });
      request.once('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed just as this request went out (its keep-alive
        // timeout): sent again at once on another connection. Safe for every call the SDK makes,
        // as its retries are (see HttpTransport).
        if (request.reusedSocket && error.code === 'ECONNRESET') attempt().then(resolve, reject);
        else reject(error);
      });
      request.once('response', (response) => {
        // Errors after the answer (an abort, a cut connection) surface where the body is read.
        request.on('error', () => undefined);
        resolve(response);
      });
      if (exchange.timeoutMs !== undefined) {
        // A gateway that stops answering (frozen, or its host gone without a reset) must not hold
        // the call forever; the error is retried like any network failure.
        const timeoutMs = exchange.timeoutMs;
        request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer from ${target.host} within ${timeoutMs} ms`)));
      }
      request.end(exchange.body);
    });
  return attempt();
}

function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.once('end', () => resolve(text));
    response.once('error', reject);
  });
}

class NodeAnswer implements StreamingAnswer {
  readonly status: number;
  readonly ok: boolean;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };

  constructor(
    private readonly response: IncomingMessage,
    private readonly bufferedText?: string,
  ) {
    this.status = response.statusCode ?? 0;
    this.ok = this.status >= 200 && this.status < 300;
    this.statusText = response.statusMessage ?? '';
    this.headers = {
      get: (name) => {
        const value = response.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    };
  }

  get body(): AsyncIterable<string> | null {
    return this.bufferedText === undefined ? (this.response as AsyncIterable<string>) : null;
  }

  text(): Promise<string> {
    return this.bufferedText !== undefined ? Promise.resolve(this.bufferedText) : readText(this.response);
  }
}
