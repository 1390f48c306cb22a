import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  links?: { traceId: string; spanId: string; attributes?: { key: string; value: { stringValue?: string } }[] }[];
  attributes?: { key: string; value: { stringValue?: string } }[];
}
export interface CollectedSpan extends OtlpSpan {
  service: string;
}

/**
 * A minimal OTLP/HTTP trace receiver for tests and benchmarks: a real HTTP server that takes
 * `POST /v1/traces` in the `http/json` encoding and keeps every span with its service.name.
 * With `keep: false` (benchmarks) it only counts the spans; other encodings are counted as
 * requests and bytes, not decoded.
 */
export class OtlpReceiver {
  readonly spans: CollectedSpan[] = [];
  requests = 0;
  bytes = 0;
  spanCount = 0;
  private server?: Server;

  constructor(private readonly options: { keep?: boolean } = {}) {}

  async start(): Promise<string> {
    this.server = createServer(async (request, response) => {
      const body = await readBody(request);
      if (request.method === 'POST' && request.url === '/v1/traces') {
        this.requests++;
        this.bytes += Buffer.byteLength(body);
        if (!request.headers['content-type']?.includes('json')) return void response.writeHead(200).end();
        if (this.options.keep === false) {
          this.spanCount += body.split('"spanId":').length - 1;
          return void response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        }
        const payload = JSON.parse(body) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: { stringValue?: string } }[] };
            scopeSpans: { spans: OtlpSpan[] }[];
          }[];
        };
        for (const { resource, scopeSpans } of payload.resourceSpans ?? []) {
          const service = resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
          for (const { spans } of scopeSpans) for (const span of spans ?? []) this.spans.push({ ...span, service });
          this.spanCount = this.spans.length;
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  inTrace(traceId: string): CollectedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId);
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
