import { WaitpointsClient } from './client';
import { ClientOptions } from './config';

let configured: ClientOptions = {};
let defaultClient: WaitpointsClient | undefined;

/**
 * Sets the gateway and the key used by `wait.*` in this process. Without it, the client reads
 * `WAITPOINTS_API_URL` and `WAITPOINTS_SECRET_KEY` (or Trigger.dev's `TRIGGER_API_URL` and
 * `TRIGGER_SECRET_KEY`) on first use.
 */
export function configure(options: ClientOptions): void {
  configured = { ...options };
  defaultClient = undefined;
}

function client(): WaitpointsClient {
  defaultClient ??= new WaitpointsClient(configured);
  return defaultClient;
}

/** Token operations and waits on the configured client. */
export const wait = {
  createToken: (...args: Parameters<WaitpointsClient['createToken']>) => client().createToken(...args),
  completeToken: <T>(token: Parameters<WaitpointsClient['completeToken']>[0], data: T) => client().completeToken<T>(token, data),
  cancelToken: (...args: Parameters<WaitpointsClient['cancelToken']>) => client().cancelToken(...args),
  rejectToken: (...args: Parameters<WaitpointsClient['rejectToken']>) => client().rejectToken(...args),
  extendToken: (...args: Parameters<WaitpointsClient['extendToken']>) => client().extendToken(...args),
  heartbeat: (...args: Parameters<WaitpointsClient['heartbeat']>) => client().heartbeat(...args),
  retrieveToken: <T = unknown>(token: Parameters<WaitpointsClient['retrieveToken']>[0]) => client().retrieveToken<T>(token),
  listTokens: (...args: Parameters<WaitpointsClient['listTokens']>) => client().listTokens(...args),
  forToken: <T = unknown>(...args: Parameters<WaitpointsClient['forToken']>) => client().forToken<T>(...args),
  forAny: <T = unknown>(...args: Parameters<WaitpointsClient['forAny']>) => client().forAny<T>(...args),
  forAll: <T = unknown>(...args: Parameters<WaitpointsClient['forAll']>) => client().forAll<T>(...args),
};
