import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { TOKEN_STATUSES, TokenStatus } from '@waitpoints/contracts';
import type { WaitpointRetrievedToken, WaitpointTokenItem } from '../tokens/token.presenter';

/**
 * Response shapes of the token API for the OpenAPI description. They implement the presenter's
 * types, so a renamed or retyped field fails the type check; `openapi.e2e-spec.ts` checks real
 * responses against the published document.
 */
const TOKEN_ID = { pattern: '^waitpoint_[0-9a-hjkmnp-tv-z]{26}$', example: 'waitpoint_01m83nrszh6dtna15f2n1jz328' };
const DATE = { type: String, format: 'date-time' } as const;

export class ErrorResponse {
  @ApiProperty({ description: 'What went wrong and, for a bad request, what to send instead', example: 'Invalid API key' })
  error!: string;
}

export class CreateTokenResponse {
  @ApiProperty({ ...TOKEN_ID, description: 'The token id (with or without `waitpoint_` in later calls)' })
  id!: string;

  @ApiProperty({ description: 'true when an earlier token with the same idempotencyKey was returned instead of a new one' })
  isCached!: boolean;

  @ApiProperty({
    format: 'uri',
    description: 'Callback URL: a POST to it completes the token with the request body as output, no Authorization needed',
  })
  url!: string;

  @ApiPropertyOptional({
    format: 'uri',
    description:
      "Waitpoints extension, only for tokens created with `approval`: the signed URL of the token's approval page (GET shows it, " +
      'its form approves or rejects). A capability like url, but not interchangeable with it',
  })
  approvalUrl?: string;
}

export class WaitpointTokenItemResponse implements WaitpointTokenItem {
  @ApiProperty(TOKEN_ID)
  id!: string;

  @ApiProperty({ format: 'uri', description: 'The callback URL (same as on create)' })
  url!: string;

  @ApiProperty({
    enum: TOKEN_STATUSES,
    description:
      'CANCELLED and REJECTED are Waitpoints extensions; clients that send x-trigger-api-version (the official SDK) see TIMED_OUT for CANCELLED ' +
      'and COMPLETED (with outputIsError: true) for REJECTED instead',
  })
  status!: TokenStatus;

  @ApiPropertyOptional({ ...DATE, description: 'When the token left WAITING' })
  completedAt?: string;

  @ApiPropertyOptional({ ...DATE, description: 'When the token times out if nobody completes it (an extension moves it)' })
  timeoutAt?: string;

  @ApiPropertyOptional({ ...DATE, description: 'Same as timeoutAt (Trigger.dev sends both)' })
  completedAfter?: string;

  @ApiPropertyOptional({ description: 'Only when the token was created with one' })
  idempotencyKey?: string;

  @ApiPropertyOptional({ ...DATE, description: 'When the idempotency key reservation ends' })
  idempotencyKeyExpiresAt?: string;

  @ApiProperty({ type: [String], description: 'Sorted in lists; in the order given on retrieve' })
  tags!: string[];

  @ApiProperty(DATE)
  createdAt!: string;

  @ApiPropertyOptional({
    description: 'Waitpoints extension, heartbeat tokens only: the heartbeatTimeout they were created with, in milliseconds',
  })
  heartbeatTimeoutMs?: number;

  @ApiPropertyOptional({
    ...DATE,
    description:
      'Waitpoints extension, waiting heartbeat tokens only: when the token times out unless a heartbeat comes first (before timeoutAt, it is the effective deadline)',
  })
  heartbeatDeadline?: string;
}

export class WaitpointRetrievedTokenResponse extends WaitpointTokenItemResponse implements WaitpointRetrievedToken {
  @ApiPropertyOptional({
    description:
      'Once finished: the output as a string of JSON text; absent when completed without data. For TIMED_OUT, CANCELLED and REJECTED: {"code","message"}',
    example: '{"approved":true}',
  })
  output?: string;

  @ApiPropertyOptional({ enum: ['application/json'], description: 'Once finished' })
  outputType?: string;

  @ApiPropertyOptional({ description: 'Once finished: false for COMPLETED, true for TIMED_OUT, CANCELLED and REJECTED' })
  outputIsError?: boolean;
}

export class ListPagination {
  @ApiPropertyOptional({ description: 'Pass as page[after] for older tokens (present when there may be more)' })
  next?: string;

  @ApiPropertyOptional({ description: 'Pass as page[before] for newer tokens' })
  previous?: string;
}

export class ListTokensResponse {
  @ApiProperty({ type: [WaitpointTokenItemResponse], description: 'Newest first; no outputs (retrieve a token for its output)' })
  data!: WaitpointTokenItemResponse[];

  @ApiProperty({ type: ListPagination })
  pagination!: ListPagination;
}

export class SuccessResponse {
  @ApiProperty({ enum: [true] })
  success!: true;
}

export class CancelTokenResponse extends SuccessResponse {
  @ApiProperty({ enum: ['CANCELLED'] })
  status!: 'CANCELLED';
}

export class RejectTokenResponse extends SuccessResponse {
  @ApiProperty({ enum: TOKEN_STATUSES, description: 'REJECTED, or the status of a token that had already finished (then nothing changed)' })
  status!: TokenStatus;
}

export class ExtendTokenResponse extends SuccessResponse {
  @ApiProperty({ ...DATE, description: 'The new timeout' })
  timeoutAt!: string;

  @ApiPropertyOptional({
    ...DATE,
    description:
      'When the token times out if nothing else happens: the earlier of timeoutAt and, for a heartbeat token, its heartbeat deadline',
  })
  deadline?: string;
}

export class HeartbeatTokenResponse extends SuccessResponse {
  @ApiProperty({ ...DATE, description: 'Now + the heartbeat timeout: the token times out then unless another heartbeat comes' })
  heartbeatDeadline!: string;

  @ApiProperty({ ...DATE, description: 'The timeout, which heartbeats do not move' })
  timeoutAt!: string;

  @ApiProperty({ ...DATE, description: 'The earlier of the two: when the token times out if nothing else happens' })
  deadline!: string;
}
