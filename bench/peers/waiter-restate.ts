/**
 * Restate's waiter process, which is also the Restate service endpoint (Node SDK, HTTP/2 on
 * RESTATE_ENDPOINT_PORT; the driver registers it with the server's admin API).
 *
 * Opening a wait = a one-way invocation of `Waiter/wait` over the server's HTTP ingress
 * (RESTATE_INGRESS_URL); the handler creates an awakeable and hands its id out from a
 * `ctx.run` (the documented way to pass it to the outside: journaled, not redone on replay);
 * the open is done when the id has been handed out. The handler then awaits the awakeable;
 * "resumed" = the line after that await (the first time: a replay after a suspension may run
 * it again). Completion: `POST /restate/awakeables/{id}/resolve` on the ingress, by the driver.
 */
import { randomBytes } from 'node:crypto';
import { createServer, Http2Server } from 'node:http2';
import { markResumed, runWaiterProcess } from './waiter-harness';

// The SDK needs Promise.withResolvers (Node ≥ 22); on Node 20 this stands in for it.
const PromiseWithResolvers = Promise as unknown as { withResolvers?: unknown };
if (typeof PromiseWithResolvers.withResolvers !== 'function') {
  PromiseWithResolvers.withResolvers = function withResolvers<T>(this: PromiseConstructor) {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new this<T>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    return { promise, resolve, reject };
  };
}

// Loaded after the polyfill (a plain import would be hoisted above it).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const restate = require('@restatedev/restate-sdk') as typeof import('@restatedev/restate-sdk');

const ingressUrl = process.env.RESTATE_INGRESS_URL!;
const port = Number(process.env.RESTATE_ENDPOINT_PORT);
const run = randomBytes(3).toString('hex');

/** Awakeable ids handed out by handlers, by the key the opener gave its invocation. */
const handedOut = new Map<string, (awakeableId: string) => void>();

const waiter = restate.service({
  name: 'Waiter',
  handlers: {
    wait: async (ctx: import('@restatedev/restate-sdk').Context, key: string): Promise<string> => {
      const awakeable = ctx.awakeable<unknown>();
      await ctx.run('hand out the awakeable id', () => {
        handedOut.get(key)?.(awakeable.id);
        handedOut.delete(key);
      });
      await awakeable.promise;
      markResumed(awakeable.id);
      return 'resumed';
    },
  },
});

runWaiterProcess(async () => {
  const server: Http2Server = createServer(restate.createEndpointHandler({ services: [waiter] }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    info: { endpointPort: port, node: process.version },
    waits: {
      async open(index) {
        const key = `w${index}-${run}`;
        const awakeableId = new Promise<string>((resolve) => handedOut.set(key, resolve));
        try {
          const response = await fetch(`${ingressUrl}/Waiter/wait/send`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(key),
            signal: AbortSignal.timeout(30_000),
          });
          const body = await response.text();
          if (!response.ok) throw new Error(`ingress answered ${response.status}: ${body.slice(0, 200)}`);
          return await awakeableId;
        } finally {
          handedOut.delete(key);
        }
      },
      async close() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Open invocation streams would hold close() up; the process exits right after anyway.
          setTimeout(resolve, 2_000).unref();
        });
      },
    },
  };
});
