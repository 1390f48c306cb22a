/**
 * Our waiter process: waits with our SDK, as an application would. Opening a wait = creating
 * a token (`wait.createToken`, HTTP to the gateway) and starting `wait.forToken` on it, until
 * its event stream delivered the first state (from then on a completion cannot be missed).
 * "Resumed" = the moment `wait.forToken` resolved here.
 *
 * Environment: WAITPOINTS_API_URL, WAITPOINTS_SECRET_KEY (set by the driver).
 */
import { setMaxListeners } from 'node:events';
import { configure, wait } from '@waitpoints/sdk';
import { markResumed, runWaiterProcess } from './waiter-harness';

runWaiterProcess(async () => {
  configure({ baseURL: process.env.WAITPOINTS_API_URL!, secretKey: process.env.WAITPOINTS_SECRET_KEY! });
  const stop = new AbortController();
  // Every wait listens on this one signal.
  setMaxListeners(0, stop.signal);
  return {
    info: { sdk: '@waitpoints/sdk (libs/sdk)', node: process.version },
    waits: {
      async open() {
        const token = await wait.createToken({ timeout: '1h', tags: ['bench-peers'] });
        await new Promise<void>((subscribed, failed) => {
          wait.forToken(token.id, { signal: stop.signal, onState: () => subscribed() }).then((result) => {
            if (result.ok) markResumed(token.id);
            else failed(new Error(`token ${token.id} ended without output: ${JSON.stringify(result.error)}`));
          }, failed);
        });
        return token.id;
      },
      async close() {
        stop.abort();
      },
    },
  };
});
