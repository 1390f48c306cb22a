import { applyDecorators } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { CreateTokenBody } from '../tokens/create-token.dto';
import { ListQueryParameter } from '../tokens/list-query';
import {
  CancelTokenRequest,
  CancelTokenResponse,
  CompleteTokenRequest,
  CreateTokenResponse,
  ErrorResponse,
  ListTokensResponse,
  SuccessResponse,
  WaitpointRetrievedTokenResponse,
} from './schemas';

/** Security scheme names, declared in api-docs.ts. */
export const SECRET_KEY_AUTH = 'secretKey';
export const PUBLIC_ACCESS_TOKEN_AUTH = 'publicAccessToken';

const ERROR_MEANING: Record<number, string> = {
  400: 'Invalid JSON, an unknown field or parameter, or an invalid value (the message names it)',
  401: 'Missing, malformed or unknown credentials',
  403: 'The public access token is not scoped to this token',
  404: 'No such token in the caller\'s environment',
  409: 'The token is already finished (the message says its status)',
  413: 'Body over the route\'s limit',
  415: 'A Content-Encoding the gateway cannot decode',
  429: 'Over the rate limit of the API key (RATE_LIMIT) or, without a key, of the token (CALLBACK_RATE_LIMIT); wait until x-ratelimit-reset',
  500: 'Unexpected failure',
  503: 'The token-service did not answer in time or NATS is unreachable; retry',
};

/** Sent with every answer counted against a rate limit (the Trigger.dev SDK waits on x-ratelimit-reset). */
const RATE_LIMIT_HEADERS = {
  'x-ratelimit-limit': { description: 'Requests allowed in the window', schema: { type: 'string' } },
  'x-ratelimit-remaining': { description: 'Requests left in the window', schema: { type: 'string' } },
  'x-ratelimit-reset': { description: 'When the window resets, in milliseconds since the epoch', schema: { type: 'string' } },
  'retry-after': { description: 'Seconds to wait (429 only)', schema: { type: 'string' } },
};

export const errors = (...statuses: number[]) =>
  [...statuses, 500].map((status) =>
    ApiResponse({ status, type: ErrorResponse, description: ERROR_MEANING[status], ...(status === 429 && { headers: RATE_LIMIT_HEADERS }) }),
  );

export const tokenIdParam = ApiParam({
  name: 'id',
  description: 'Token id, with or without the `waitpoint_` prefix',
  schema: { type: 'string', example: 'waitpoint_01m83nrszh6dtna15f2n1jz328' },
});

const LIST_PARAMETERS: Record<ListQueryParameter, { description: string; schema: Record<string, unknown> }> = {
  'page[size]': { description: 'Tokens per page', schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 } },
  'page[after]': { description: 'Cursor: tokens older than this id (pagination.next)', schema: { type: 'string' } },
  'page[before]': {
    description: 'Cursor: tokens newer than this id (pagination.previous); wins over page[after]',
    schema: { type: 'string' },
  },
  'filter[status]': {
    description: 'Comma-separated WAITING, COMPLETED, TIMED_OUT, CANCELLED, REJECTED (any case); exactly those statuses',
    schema: { type: 'string', example: 'WAITING,TIMED_OUT' },
  },
  'filter[idempotencyKey]': { description: 'Tokens created with this key', schema: { type: 'string' } },
  'filter[tags]': { description: 'Comma-separated; tokens having any of the tags', schema: { type: 'string' } },
  'filter[createdAt][period]': { description: 'Created within this long before now (e.g. 1h, 7d)', schema: { type: 'string' } },
  'filter[createdAt][from]': {
    description: 'Created at or after: milliseconds since the epoch or an ISO 8601 date',
    schema: { type: 'string' },
  },
  'filter[createdAt][to]': {
    description: 'Created at or before: milliseconds since the epoch or an ISO 8601 date',
    schema: { type: 'string' },
  },
};

/** Documentation of each route of TokensController (what it accepts and answers). */
export const TokenRouteDocs = {
  controller: () => applyDecorators(ApiTags('Waitpoint tokens')),

  create: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'createToken',
        summary: 'Create a token',
        description:
          'Secret key only; body limit 10 KiB. With an idempotencyKey that has a live reservation, the original token is returned (isCached: true). ' +
          'The x-trigger-request-idempotency-key header (at most 256 characters) makes retries of one request return the same token.',
      }),
      ApiBearerAuth(SECRET_KEY_AUTH),
      ApiHeader({
        name: 'x-trigger-request-idempotency-key',
        required: false,
        description: 'Sent by the SDKs with every create: a retry of the same request returns the token it created (at most 256 characters)',
      }),
      ApiBody({ type: CreateTokenBody, required: true }),
      ApiOkResponse({
        type: CreateTokenResponse,
        headers: {
          'x-trigger-jwt': {
            description: 'A public access token (JWT, 24 h) that can complete this token and nothing else',
            schema: { type: 'string' },
          },
          'x-trigger-jwt-claims': { description: '{"sub":"<environment>","pub":true}', schema: { type: 'string' } },
        },
      }),
      ...errors(400, 401, 413, 415, 429, 503),
    ),

  list: () =>
    applyDecorators(
      ApiOperation({ operationId: 'listTokens', summary: 'List tokens, newest first', description: 'Secret key only. Unknown page[…]/filter[…] parameters are a 400.' }),
      ApiBearerAuth(SECRET_KEY_AUTH),
      ...Object.entries(LIST_PARAMETERS).map(([name, { description, schema }]) =>
        ApiQuery({ name, required: false, description, schema }),
      ),
      ApiOkResponse({ type: ListTokensResponse }),
      ...errors(400, 401, 429, 503),
    ),

  retrieve: () =>
    applyDecorators(
      ApiOperation({ operationId: 'retrieveToken', summary: 'Retrieve a token with its output', description: 'Secret key only.' }),
      ApiBearerAuth(SECRET_KEY_AUTH),
      tokenIdParam,
      ApiOkResponse({ type: WaitpointRetrievedTokenResponse }),
      ...errors(401, 404, 429, 503),
    ),

  complete: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'completeToken',
        summary: 'Complete a token',
        description:
          'Secret key, or a public access token scoped to this token (CORS is open on this route). Body limit 3 MiB. ' +
          'Completing a finished token also answers 200 and changes nothing.',
      }),
      ApiBearerAuth(SECRET_KEY_AUTH),
      ApiBearerAuth(PUBLIC_ACCESS_TOKEN_AUTH),
      tokenIdParam,
      ApiBody({ type: CompleteTokenRequest, required: true }),
      ApiOkResponse({ type: SuccessResponse }),
      ...errors(400, 401, 403, 404, 413, 415, 429, 503),
    ),

  cancel: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'cancelToken',
        summary: 'Cancel a token (Waitpoints extension)',
        description: 'Secret key only. Body optional, limit 10 KiB. Cancelling a cancelled token answers the same.',
      }),
      ApiBearerAuth(SECRET_KEY_AUTH),
      tokenIdParam,
      ApiBody({ type: CancelTokenRequest, required: false }),
      ApiOkResponse({ type: CancelTokenResponse }),
      ...errors(400, 401, 404, 409, 413, 415, 429, 503),
    ),

  callback: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'completeTokenByCallback',
        summary: 'Complete a token through its callback URL',
        description:
          'No Authorization: the hash (HMAC of the token id) is the credential. The whole body becomes the output; ' +
          'an empty or non-JSON body is stored as {}. Body limit 3 MiB.',
      }),
      tokenIdParam,
      ApiParam({ name: 'hash', description: 'The hex HMAC-SHA256 in the token\'s url', schema: { type: 'string' } }),
      ApiBody({ required: false, description: 'Any JSON', schema: {} }),
      ApiOkResponse({ type: SuccessResponse }),
      ...errors(401, 404, 413, 415, 429, 503),
    ),

  events: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'watchToken',
        summary: 'Follow a token as Server-Sent Events (Waitpoints extension)',
        description:
          'Secret key, or a public access token scoped to this token (also accepted as ?access_token= for EventSource; CORS is open). ' +
          'Each `token` event carries the token as Retrieve returns it, with its version as the event id; the first is the current state. ' +
          'An `end` event follows when the token is finished, then the stream closes. Comment lines are sent as heartbeats. ' +
          'Last-Event-ID (header) sends only newer versions; 204 when the client already holds the final state.',
      }),
      ApiBearerAuth(SECRET_KEY_AUTH),
      ApiBearerAuth(PUBLIC_ACCESS_TOKEN_AUTH),
      tokenIdParam,
      ApiHeader({ name: 'Last-Event-ID', required: false, description: 'The last version received: only newer ones are sent (EventSource sets it on reconnect)' }),
      ApiQuery({ name: 'lastEventId', required: false, description: 'Same as the Last-Event-ID header, for clients that cannot set headers', schema: { type: 'integer', minimum: 0 } }),
      ApiQuery({
        name: 'access_token',
        required: false,
        description: 'The token\'s public access token, for EventSource (which cannot send Authorization); secret keys are refused here. Redacted from logs.',
        schema: { type: 'string' },
      }),
      ApiOkResponse({
        description: 'An event stream: `event: token` / `id: <version>` / `data: <retrieved token JSON>`, then `event: end`',
        content: { 'text/event-stream': { schema: { type: 'string' } } },
      }),
      ApiResponse({ status: 204, description: 'Last-Event-ID already names the final state: nothing more will come' }),
      ...errors(400, 401, 403, 404, 503),
    ),
};
