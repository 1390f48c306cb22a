import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { MAX_REJECTION_CODE_LENGTH, MAX_REJECTION_MESSAGE_LENGTH, TOKEN_STATUSES, TokenStatus } from '@waitpoints/contracts';
import { REJECT_BODY_LIMIT_BYTES } from '../tokens/long-running.dto';
import { PUBLIC_ACCESS_TOKEN_AUTH, SECRET_KEY_AUTH, errors, tokenIdParam } from './route-docs';

const DATE = { type: String, format: 'date-time' } as const;

export class RejectionErrorRequest {
  @ApiProperty({ minLength: 1, maxLength: MAX_REJECTION_MESSAGE_LENGTH, example: 'Refused by a moderator' })
  message!: string;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: MAX_REJECTION_CODE_LENGTH,
    example: 'MODERATION_REFUSED',
    description: 'Default WAITPOINT_REJECTED',
  })
  code?: string;
}

export class RejectTokenRequest {
  @ApiProperty({ type: RejectionErrorRequest })
  error!: RejectionErrorRequest;
}

export class RejectTokenResponse {
  @ApiProperty({ enum: [true] })
  success!: true;

  @ApiProperty({ enum: TOKEN_STATUSES, description: 'REJECTED, or the status of a token that had already finished (then nothing changed)' })
  status!: TokenStatus;
}

export class ExtendTokenRequest {
  @ApiProperty({ example: '1h', description: 'The new timeout: a duration from now (30s, 10m, 2h, 1h30m) or a future ISO 8601 date; earlier than the current one too' })
  timeout!: string;
}

export class ExtendTokenResponse {
  @ApiProperty({ enum: [true] })
  success!: true;

  @ApiProperty({ ...DATE, description: 'The new timeout' })
  timeoutAt!: string;

  @ApiPropertyOptional({ ...DATE, description: 'When the token times out if nothing else happens: the earlier of timeoutAt and, for a heartbeat token, its heartbeat deadline' })
  deadline?: string;
}

export class HeartbeatTokenResponse {
  @ApiProperty({ enum: [true] })
  success!: true;

  @ApiProperty({ ...DATE, description: 'Now + the heartbeat timeout: the token times out then unless another heartbeat comes' })
  heartbeatDeadline!: string;

  @ApiProperty({ ...DATE, description: 'The timeout, which heartbeats do not move' })
  timeoutAt!: string;

  @ApiProperty({ ...DATE, description: 'The earlier of the two: when the token times out if nothing else happens' })
  deadline!: string;
}

/** OpenAPI of the long-running-token routes (Waitpoints extensions, not in Trigger.dev's API). */
export const LongRunningRouteDocs = {
  controller: () => applyDecorators(ApiTags('Waitpoint tokens')),

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
        summary: 'Move a waiting token\'s timeout (Waitpoints extension)',
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
        summary: 'Restart a heartbeat token\'s heartbeat clock (Waitpoints extension)',
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
};
