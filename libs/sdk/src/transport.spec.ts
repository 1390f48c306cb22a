import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { resolveClientOptions } from './config';
import { ApiError, ConnectionError } from './errors';
import { HttpTransport } from './http';
import { readServerSentEvents } from './sse';
import { nodeTransport } from './transport';

/** A real HTTP server on a free port, answering with `handle`; counts the connections it accepted. */
async function serve(handle: (request: IncomingMessage, response: ServerResponse, socket: Socket) => void) {
  const sockets: Socket[] = [];
  const server: Server = createServer((request, response) => handle(request, response, request.socket));
  server.on('connection', (socket) => sockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    sockets,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const readBody = async (request: IncomingMessage) => {
  let text = '';
  for await (const chunk of request) text += chunk;
  return text;
};

describe("the SDK's HTTP over node:http", () => {
  it('sends JSON requests one after another on one kept-alive connection', async () => {
    const server = await serve(async (request, response) => {
      const body = await readBody(request);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ method: request.method, length: request.headers['content-length'], body }));
    });
    try {
      const answers = [];
      for (let i = 0; i < 3; i++) {
        const answer = await nodeTransport.send(`${server.url}/tokens`, { method: 'POST', headers: {}, body: '{"n":"é"}' });
        answers.push({ status: answer.status, ok: answer.ok, json: JSON.parse(await answer.text()) });
      }
      expect(answers).toEqual(Array(3).fill({ status: 200, ok: true, json: { method: 'POST', length: '10', body: '{"n":"é"}' } }));
      expect(server.sockets).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('sends a request again, on a new connection, when the kept-alive one was closed under it', async () => {
    let requests = 0;
    const server = await serve((request, response, socket) => {
      // The second request arrives on the connection the first one used: close it unanswered,
      // as a server whose keep-alive timeout just ran out does.
      if (++requests === 2) return socket.destroy();
      response.end(`{"request":${requests}}`);
    });
    try {
      const first = await nodeTransport.send(`${server.url}/a`, { method: 'GET', headers: {} });
      const second = await nodeTransport.send(`${server.url}/b`, { method: 'GET', headers: {} });
      expect([await first.text(), await second.text()]).toEqual(['{"request":1}', '{"request":3}']);
      expect(server.sockets).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it('reports a redirect as an error naming where it points, instead of following it', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(308, { location: 'https://waitpoints.example.com/api/v1/waitpoints/tokens' }).end();
    });
    try {
      const http = new HttpTransport(resolveClientOptions({ baseURL: server.url, secretKey: 'tr_dev_key', maxAttempts: 1 }, {}));
      const failure = await http.request('/api/v1/waitpoints/tokens', { method: 'POST', body: {} }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ApiError);
      expect((failure as ApiError).message).toBe(
        'The gateway redirects to https://waitpoints.example.com/api/v1/waitpoints/tokens: set baseURL to where the API is served',
      );
    } finally {
      await server.close();
    }
  });

  it('gives up on a gateway that stops answering after requestTimeoutMs, as a connection error', async () => {
    const server = await serve(() => undefined); // reads the request, never answers
    try {
      const http = new HttpTransport(
        resolveClientOptions({ baseURL: server.url, secretKey: 'tr_dev_key', maxAttempts: 1, requestTimeoutMs: 200 }, {}),
      );
      const startedAt = Date.now();
      const failure = await http.request('/api/v1/waitpoints/tokens/waitpoint_x').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ConnectionError);
      expect((failure as Error).message).toBe(
        `Cannot reach Waitpoints at ${server.url}: no answer from ${new URL(server.url).host} within 200 ms`,
      );
      expect(Date.now() - startedAt).toBeLessThan(5000);
    } finally {
      await server.close();
    }
  });

  it('hands over an event stream as text as it arrives, characters split between writes included', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const bytes = Buffer.from('event: token\ndata: {"output":"café"}\n\n');
      const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "é"
      response.write(bytes.subarray(0, cut));
      setTimeout(() => response.end(bytes.subarray(cut)), 20);
    });
    try {
      const stream = await nodeTransport.openStream(`${server.url}/events`, { headers: {}, signal: new AbortController().signal });
      const events = [];
      for await (const event of readServerSentEvents(stream.body!)) events.push(event);
      expect(events).toEqual([{ event: 'token', data: '{"output":"café"}', lastEventId: '' }]);
    } finally {
      await server.close();
    }
  });

  it('closes the connection of an event stream its reader stopped reading', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: first\n\n');
    });
    try {
      const stream = await nodeTransport.openStream(`${server.url}/events`, { headers: {}, signal: new AbortController().signal });
      for await (const event of readServerSentEvents(stream.body!)) {
        expect(event.data).toBe('first');
        break;
      }
      const [socket] = server.sockets;
      if (!socket.destroyed) await once(socket, 'close');
      expect(socket.destroyed).toBe(true);
    } finally {
      await server.close();
    }
  });
});
