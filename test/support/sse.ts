import { ServerSentEvent, readServerSentEvents } from '../../libs/sdk/src/sse';

export interface EventStreamReader {
  status: number;
  headers: Headers;
  /** JSON body of a non-stream answer (errors). */
  json?: unknown;
  /** The next event, or undefined once the server ended the stream. Fails after `timeoutMs`. */
  next(timeoutMs?: number): Promise<ServerSentEvent | undefined>;
  /** Every remaining event until the server ends the stream. */
  rest(timeoutMs?: number): Promise<ServerSentEvent[]>;
  close(): void;
}

/** Opens `GET <url>` as an event stream, the way curl or EventSource would. */
export async function openEventStream(url: string, headers: Record<string, string> = {}): Promise<EventStreamReader> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      json: text ? JSON.parse(text) : undefined,
      next: async () => undefined,
      rest: async () => [],
      close: () => controller.abort(),
    };
  }
  const events = readServerSentEvents(response.body!);
  const next = async (timeoutMs = 10_000) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const item = await Promise.race([events.next(), timeout]);
      return item.done ? undefined : item.value;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    status: response.status,
    headers: response.headers,
    next,
    async rest(timeoutMs = 10_000) {
      const all: ServerSentEvent[] = [];
      for (let event = await next(timeoutMs); event; event = await next(timeoutMs)) all.push(event);
      return all;
    },
    close: () => controller.abort(),
  };
}
