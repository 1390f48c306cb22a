/**
 * @waitpoints/sdk: a TypeScript client for Waitpoints, for any Node.js (≥ 22) process.
 * HTTP only (node:http, or a fetch passed in the options); no framework. Internal services that consume token events from
 * JetStream use `@waitpoints/sdk/events` instead.
 */
export { WaitpointsClient } from './client';
export type { FirstFinished } from './client';
export { DEFAULT_BASE_URL } from './config';
export type { ClientOptions } from './config';
export * from './errors';
export { CursorPagePromise } from './pagination';
export type { CursorPage } from './pagination';
export { UnwrappablePromise } from './results';
export type { WaitpointError, WaitpointPromise, WaitpointResult } from './results';
export { SseParser } from './sse';
export type { ServerSentEvent } from './sse';
export type * from './types';
export { configure, wait } from './wait';
