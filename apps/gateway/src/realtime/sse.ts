import type { Response } from 'express';

export interface SseMessage {
  id?: string;
  event?: string;
  /** One line of text (JSON has no raw line breaks). */
  data: string;
}

function framesOf(messages: SseMessage[]): string {
  let frames = '';
  for (const message of messages) {
    if (message.id !== undefined) frames += `id: ${message.id}\n`;
    if (message.event !== undefined) frames += `event: ${message.event}\n`;
    frames += `data: ${message.data}\n\n`;
  }
  return frames;
}

/** One open `text/event-stream` response. */
export class SseStream {
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];

  constructor(private readonly response: Response) {
    response.on('close', () => this.markClosed());
    // The client may have gone while the token was being read.
    if (response.req.socket.destroyed) this.markClosed();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Several messages go out in one write. */
  send(...messages: SseMessage[]): void {
    if (this.closed || messages.length === 0) return;
    this.response.write(framesOf(messages));
  }

  comment(text: string): void {
    if (!this.closed) this.response.write(`: ${text}\n\n`);
  }

  /** Ends the stream, after the given last messages (written together with the end). */
  end(...lastMessages: SseMessage[]): void {
    if (this.closed) return;
    if (lastMessages.length > 0) this.response.end(framesOf(lastMessages));
    else this.response.end();
    this.markClosed();
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}

/**
 * Every open event stream of the gateway: one heartbeat timer for all of them (a comment
 * line keeps proxies and load balancers from cutting an idle stream), and a way to end them
 * all at shutdown, without which the HTTP server would wait for them forever.
 */
export class SseConnections {
  private readonly streams = new Set<SseStream>();
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly heartbeatMs: number,
    /** Tells clients how long to wait before reconnecting. */
    private readonly retryMs = 1000,
  ) {}

  get size(): number {
    return this.streams.size;
  }

  open(response: Response): SseStream {
    response.status(200);
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-cache, no-transform');
    response.setHeader('Connection', 'keep-alive');
    // nginx would otherwise buffer the stream and deliver events late.
    response.setHeader('X-Accel-Buffering', 'no');
    response.socket?.setNoDelay(true);
    response.flushHeaders();
    response.write(`retry: ${this.retryMs}\n\n`);
    const stream = new SseStream(response);
    this.streams.add(stream);
    stream.onClose(() => {
      this.streams.delete(stream);
      if (this.streams.size === 0) this.stopHeartbeat();
    });
    this.heartbeat ??= setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
    return stream;
  }

  closeAll(): void {
    for (const stream of [...this.streams]) stream.end();
    this.stopHeartbeat();
  }

  private beat(): void {
    for (const stream of this.streams) stream.comment('heartbeat');
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
