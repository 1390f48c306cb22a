import { applyDecorators } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { CancelTokenRequest } from '../tokens/cancel-token/cancel-token.request.dto';
import { CompleteTokenRequest } from '../tokens/complete-token/complete-token.request.dto';
import { CreateTokenBody } from '../tokens/create-token/create-token.request.dto';
import { ExtendTokenRequest } from '../tokens/extend-token/extend-token.request.dto';
import { DEFAULT_PAGE_SIZE, ListQueryParameter, MAX_PAGE_SIZE } from '../tokens/list-tokens/list-tokens.request.dto';
import { REJECT_BODY_LIMIT_BYTES, RejectTokenRequest } from '../tokens/reject-token/reject-token.request.dto';
import { MAX_OUTPUT_DEPTH } from '../tokens/token-output';
import {
  CancelTokenResponse,
  CreateTokenResponse,
  ErrorResponse,
  ExtendTokenResponse,
  HeartbeatTokenResponse,
  ListTokensResponse,
  RejectTokenResponse,
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
  404: "No such token in the caller's environment",
  409: 'The token is already finished (the message says its status)',
  413: "Body over the route's limit",
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

/** The error answers of a route: statuses with their usual meaning, or [status, what it means on this route]. */
const errors = (...statuses: (number | [number, string])[]) =>
  [...statuses, 500].map((entry) => {
    const [status, description] = typeof entry === 'number' ? [entry, ERROR_MEANING[entry]] : entry;
    return ApiResponse({ status, type: ErrorResponse, description, ...(status === 429 && { headers: RATE_LIMIT_HEADERS }) });
  });

const tokenIdParam = ApiParam({
  name: 'id',
  description: 'Token id, with or without the `waitpoint_` prefix',
  schema: { type: 'string', example: 'waitpoint_01m83nrszh6dtna15f2n1jz328' },
});

const LIST_PARAMETERS: Record<ListQueryParameter, { description: string; schema: Record<string, unknown> }> = {
  'page[size]': {
    description: 'Tokens per page',
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
  },
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

/** Documentation of each route of the token API's controllers (what it accepts and answers). */
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
        description:
          'Sent by the SDKs with every create: a retry of the same request returns the token it created (at most 256 characters)',
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
      ApiOperation({
        operationId: 'listTokens',
        summary: 'List tokens, newest first',
        description: 'Secret key only. Unknown page[…]/filter[…] parameters are a 400.',
      }),
      ApiBearerAuth(SECRET_KEY_AUTH),
      ...Object.entries(LIST_PARAMETERS).map(([name, { description, schema }]) => ApiQuery({ name, required: false, description, schema })),
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
          `Secret key, or a public access token scoped to this token (CORS is open on this route). Body limit 3 MiB; data nested at most ${MAX_OUTPUT_DEPTH} levels. ` +
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

  reject: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'rejectToken',
        summary: 'Reject a token: end it with an error (Waitpoints extension)',
        description:
          `Secret key, or a public access token scoped to this token (CORS is open, as on complete). Body limit ${REJECT_BODY_LIMIT_BYTES / 1024} KiB. ` +
          'The token becomes REJECTED; its output is {"code","message"} with outputIsError: true. Clients that send x-trigger-api-version ' +
          '(the official SDK) see status COMPLETED with outputIsError: true, so wait.retrieveToken returns it as an error. ' +
          'Rejecting a finished token answers 200 with its status and changes nothing.',
      }),
      ApiBearerAuth(SECRET_KEY_AUTH),
      ApiBearerAuth(PUBLIC_ACCESS_TOKEN_AUTH),
      tokenIdParam,
      ApiBody({ type: RejectTokenRequest, required: true }),
      ApiOkResponse({ type: RejectTokenResponse }),
      ...errors(400, 401, 403, 404, 413, 415, 429, 503),
    ),

  extend: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'extendToken',
        summary: "Move a waiting token's timeout (Waitpoints extension)",
        description:
          'Secret key only; body limit 10 KiB. Records a TokenDeadlineExtended event (on the event stream and JetStream); the scheduler fires at the new ' +
          'timeout, never at the old one. A finished token answers 409 with its status in the message.',
      }),
      ApiBearerAuth(SECRET_KEY_AUTH),
      tokenIdParam,
      ApiBody({ type: ExtendTokenRequest, required: true }),
      ApiOkResponse({ type: ExtendTokenResponse }),
      ...errors(400, 401, 404, 409, 413, 415, 429, 503),
    ),

  heartbeat: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'heartbeatToken',
        summary: "Restart a heartbeat token's heartbeat clock (Waitpoints extension)",
        description:
          'Secret key, or a public access token scoped to this token (CORS open). Body empty or {}. Only for tokens created with heartbeatTimeout (else 400). ' +
          'Not an event: nothing is published and the event stream shows no change; retrieve and list show the heartbeatDeadline. ' +
          'A finished token answers 409 with its status in the message.',
      }),
      ApiBearerAuth(SECRET_KEY_AUTH),
      ApiBearerAuth(PUBLIC_ACCESS_TOKEN_AUTH),
      tokenIdParam,
      ApiBody({ required: false, description: 'Empty, or {}', schema: { type: 'object', additionalProperties: false } }),
      ApiOkResponse({ type: HeartbeatTokenResponse }),
      ...errors(400, 401, 403, 404, 409, 413, 415, 429, 503),
    ),

  callback: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'completeTokenByCallback',
        summary: 'Complete a token through its callback URL',
        description:
          'No Authorization: the hash (HMAC of the token id) is the credential. The whole body becomes the output; ' +
          `an empty or non-JSON body is stored as {}. Body limit 3 MiB, nested at most ${MAX_OUTPUT_DEPTH} levels.`,
      }),
      tokenIdParam,
      ApiParam({ name: 'hash', description: "The hex HMAC-SHA256 in the token's url", schema: { type: 'string' } }),
      ApiBody({ required: false, description: 'Any JSON', schema: {} }),
      ApiOkResponse({ type: SuccessResponse }),
      ...errors([400, `The body is nested deeper than ${MAX_OUTPUT_DEPTH} levels`], 401, 404, 413, 415, 429, 503),
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
      ApiHeader({
        name: 'Last-Event-ID',
        required: false,
        description: 'The last version received: only newer ones are sent (EventSource sets it on reconnect)',
      }),
      ApiQuery({
        name: 'lastEventId',
        required: false,
        description: 'Same as the Last-Event-ID header, for clients that cannot set headers',
        schema: { type: 'integer', minimum: 0 },
      }),
      ApiQuery({
        name: 'access_token',
        required: false,
        description:
          "The token's public access token, for EventSource (which cannot send Authorization); secret keys are refused here. Redacted from logs.",
        schema: { type: 'string' },
      }),
      ApiOkResponse({
        description: 'An event stream: `event: token` / `id: <version>` / `data: <retrieved token JSON>`, then `event: end`',
        content: { 'text/event-stream': { schema: { type: 'string' } } },
      }),
      ApiResponse({ status: 204, description: 'Last-Event-ID already names the final state: nothing more will come' }),
      ...errors(400, 401, 403, 404, 503),
    ),
  approvalPage: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'showApprovalPage',
        summary: "A token's approval page (Waitpoints extension)",
        description:
          'The approvalUrl of a token created with `approval`. No Authorization: the hash (an HMAC of the token id for the purpose ' +
          '"approval", never equal to the callback hash) is the credential. Changes nothing: answers an HTML page with the title, ' +
          'description, timeout and a form to approve or reject, or the final state once the token is finished. No script; ' +
          'CSP, X-Frame-Options: DENY and Referrer-Policy: no-referrer.',
      }),
      tokenIdParam,
      ApiParam({ name: 'hash', description: "The hex HMAC-SHA256 in the token's approvalUrl", schema: { type: 'string' } }),
      ApiOkResponse({ description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } }),
      ApiResponse({ status: 404, description: 'The hash does not match, or the token has no approval page (an HTML page)' }),
    ),

  approvalSubmit: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'submitApprovalPage',
        summary: "Approve or reject on a token's approval page (Waitpoints extension)",
        description:
          "The page's form (application/x-www-form-urlencoded): decision=approve|reject, comment (at most 4,000 characters; required " +
          'when the approval says commentRequired) and csrf, the form token the page embedded (an HMAC of the token id and a nonce). ' +
          'Completes the token with {"approved": true|false, "comment"?} through the channel approval_page and answers the final ' +
          'state as HTML. A finished token is not changed: the page shows what happened.',
      }),
      tokenIdParam,
      ApiParam({ name: 'hash', description: "The hex HMAC-SHA256 in the token's approvalUrl", schema: { type: 'string' } }),
      ApiConsumes('application/x-www-form-urlencoded'),
      ApiBody({
        required: true,
        schema: {
          type: 'object',
          required: ['decision', 'csrf'],
          properties: {
            decision: { type: 'string', enum: ['approve', 'reject'] },
            comment: { type: 'string', maxLength: 4000 },
            csrf: { type: 'string', description: 'The form token embedded in the page' },
          },
        },
      }),
      ApiOkResponse({ description: 'The page with the final state', content: { 'text/html': { schema: { type: 'string' } } } }),
      ApiResponse({ status: 400, description: 'No decision, or a required comment missing: the form again, with the problem (HTML)' }),
      ApiResponse({ status: 403, description: 'Form token missing or invalid, or the form was posted from another site (HTML)' }),
      ApiResponse({ status: 404, description: 'The hash does not match, or the token has no approval page (HTML)' }),
      ApiResponse({ status: 429, description: "Over the token's completion rate limit (HTML)" }),
    ),
};
