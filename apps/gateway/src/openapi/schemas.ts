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
      'Waitpoints extension, only for tokens created with `approval`: the signed URL of the token\'s approval page (GET shows it, ' +
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
    description: 'CANCELLED is a Waitpoints extension; clients that send x-trigger-api-version (the official SDK) see TIMED_OUT instead',
  })
  status!: TokenStatus;

  @ApiPropertyOptional({ ...DATE, description: 'When the token left WAITING' })
  completedAt?: string;

  @ApiPropertyOptional({ ...DATE, description: 'When the token times out if nobody completes it' })
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
}

export class WaitpointRetrievedTokenResponse extends WaitpointTokenItemResponse implements WaitpointRetrievedToken {
  @ApiPropertyOptional({
    description: 'Once finished: the output as a string of JSON text; absent when completed without data. For TIMED_OUT and CANCELLED: {"code","message"}',
    example: '{"approved":true}',
  })
  output?: string;

  @ApiPropertyOptional({ enum: ['application/json'], description: 'Once finished' })
  outputType?: string;

  @ApiPropertyOptional({ description: 'Once finished: false for COMPLETED, true for TIMED_OUT and CANCELLED' })
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
