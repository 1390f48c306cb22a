import type { Server } from 'node:http';

/**
 * How often Node looks for requests past their timeouts. Its default (30 s) would let a
 * 10 s header timeout run to 40 s; the check walks a list of sockets, so once a second is cheap.
 */
export const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/**
 * Application-level bounds on receiving a request: the headers within `headersTimeoutMs`, the
 * whole request (headers and body) within `requestTimeoutMs`, or Node answers 408 (as JSON, see
 * client-errors.ts) and closes the connection. A client trickling a body a byte at a time is cut
 * off here instead of holding the connection for Node's default five minutes. Responses are not
 * bounded: an event stream stays open once its request has arrived. Call before `listen`.
 */
export function applyRequestTimeouts(
  server: Server,
  { requestTimeoutMs, headersTimeoutMs }: { requestTimeoutMs: number; headersTimeoutMs: number },
): void {
  server.requestTimeout = requestTimeoutMs;
  server.headersTimeout = headersTimeoutMs;
  // Node reads this when the server starts listening (it is a createServer option, and Nest
  // creates the server).
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = TIMEOUT_CHECK_INTERVAL_MS;
}
