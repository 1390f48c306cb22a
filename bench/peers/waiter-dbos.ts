/**
 * DBOS's waiter process: the DBOS application (system database DBOS_SYSTEM_DATABASE_URL, a
 * fresh PostgreSQL database of its own), with a small HTTP endpoint on DBOS_HTTP_PORT through
 * which the outside completes a wait: `POST /send/:workflowId` → `DBOS.send(workflowId,
 * body, topic)`.
 *
 * Opening a wait = `DBOS.startWorkflow` of a workflow whose first step is
 * `DBOS.recv(topic, timeout)`: the open is done when startWorkflow resolved (the workflow is
 * recorded; a message sent from then on is delivered). "Resumed" = the line after recv
 * returned the message.
 */
import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { markResumed, runWaiterProcess } from './waiter-harness';

const TOPIC = 'completion';
/** Longer than any run: a wait ends by its message, never by this. */
const RECV_TIMEOUT_SECONDS = 3600;

const port = Number(process.env.DBOS_HTTP_PORT);
const run = randomBytes(3).toString('hex');

const waiter = DBOS.registerWorkflow(
  async (): Promise<boolean> => {
    const message = await DBOS.recv<unknown>(TOPIC, RECV_TIMEOUT_SECONDS);
    if (message === null) return false;
    markResumed(DBOS.workflowID!);
    return true;
  },
  { name: 'benchWaiter' },
);

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const match = /^\/send\/([^/?]+)$/.exec(request.url ?? '');
  if (request.method !== 'POST' || !match) {
    response.writeHead(404).end();
    return;
  }
  try {
    const body = await readBody(request);
    await DBOS.send(decodeURIComponent(match[1]), body === '' ? null : JSON.parse(body), TOPIC);
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  } catch (error) {
    response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
  }
}

runWaiterProcess(async () => {
  DBOS.setConfig({ name: 'waitpoints-bench-peers', systemDatabaseUrl: process.env.DBOS_SYSTEM_DATABASE_URL!, logLevel: 'error' });
  await DBOS.launch();
  const server: Server = createServer((request, response) => void handle(request, response));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    info: { httpPort: port, node: process.version },
    waits: {
      async open(index) {
        const workflowID = `w${index}-${run}`;
        await DBOS.startWorkflow(waiter, { workflowID })();
        return workflowID;
      },
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await DBOS.shutdown();
      },
    },
  };
});
