/** One Server-Sent Event, as the HTML standard's parsing rules assemble it. */
export interface ServerSentEvent {
  /** `message` when the stream named no event type. */
  event: string;
  data: string;
  /** The last `id:` seen on the stream so far (the standard's "last event ID"). */
  lastEventId: string;
}

/**
 * Incremental `text/event-stream` parser: feed it text as it arrives, in chunks of any
 * size, and it returns the events completed so far. Handles CRLF/CR/LF line ends, comment
 * lines, multi-line data and the `retry:` field.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private lastEventId = '';
  private sawCarriageReturn = false;
  /** Reconnection delay the server asked for, if any. */
  retryMs?: number;

  push(chunk: string): ServerSentEvent[] {
    let text = chunk;
    // A CRLF split across two chunks: the LF belongs to the line already ended.
    if (this.sawCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    this.sawCarriageReturn = text.endsWith('\r');
    this.buffer += text;
    const events: ServerSentEvent[] = [];
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) {
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): ServerSentEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return undefined;
  }

  private dispatch(): ServerSentEvent | undefined {
    const event = this.event || 'message';
    this.event = '';
    if (this.data.length === 0) return undefined;
    const data = this.data.join('\n');
    this.data = [];
    return { event, data, lastEventId: this.lastEventId };
  }
}

/**
 * The events of a streamed response body, as they arrive: text (node:http, decoded as it came)
 * or bytes (a fetch body). Stopping early (a `return` or `break` in the caller's loop) closes
 * the body: both kinds of stream are cancelled when their iteration ends before they do.
 */
export async function* readServerSentEvents(
  body: AsyncIterable<Uint8Array | string>,
  parser = new SseParser(),
): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    yield* parser.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  }
}
