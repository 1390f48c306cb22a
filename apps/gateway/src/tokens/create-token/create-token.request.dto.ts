import { IsString, MaxLength, MinLength } from 'class-validator';
import { ApiPropertyOptional } from '@nestjs/swagger';
import {
  CreateTokenCommand,
  DEFAULT_IDEMPOTENCY_KEY_TTL,
  DEFAULT_TIMEOUT,
  MAX_IDEMPOTENCY_KEY_BYTES,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  parseBoundedDuration,
  parseDuration,
  parseTimeout,
} from '@waitpoints/contracts';
import { ApiError } from '../../http/api-error';
import { Optional, Rule } from '../../http/request-validation';
import { unstorableText } from '../../http/storable-text';
import { ApprovalRequestBody, approvalProblem, toApprovalRequest } from './approval-request';

/** A positive duration of at most 100 years (a longer one would overflow the stored date). */
const IsBoundedDuration = () =>
  Rule('isBoundedDuration', (value, field) => {
    const result = parseBoundedDuration(field, value);
    return result.ok ? undefined : result.message;
  });

const IsTimeout = () =>
  Rule('isTimeout', (value) => {
    const result = parseTimeout(value, new Date());
    return result.ok ? undefined : result.message;
  });

// A string already too long in characters gets that message alone.
const IsWithinUtf8Bytes = (max: number) =>
  Rule('isWithinUtf8Bytes', (value, field) =>
    typeof value !== 'string' || value.length > max || Buffer.byteLength(value, 'utf8') <= max
      ? undefined
      : `${field} must be at most ${max} bytes in UTF-8 (this one has ${Buffer.byteLength(value, 'utf8')})`,
  );

const IsStorableText = () =>
  Rule('isStorableText', (value, field) => {
    const unstorable = typeof value === 'string' ? unstorableText(value) : undefined;
    return unstorable && `${field} ${unstorable}`;
  });

const IsTags = () =>
  Rule('isTags', (value) => {
    const tags = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(tags)) return 'tags must be a string or an array of strings';
    if (tags.length > MAX_TAGS) return `tags: at most ${MAX_TAGS} tags are allowed, got ${tags.length}`;
    for (const tag of tags) {
      if (typeof tag !== 'string') return 'tags must be a string or an array of strings';
      if (tag.length > MAX_TAG_LENGTH) return `tags: each tag must be at most ${MAX_TAG_LENGTH} characters (one has ${tag.length})`;
      const unstorable = unstorableText(tag);
      if (unstorable) return `tags: a tag ${unstorable}`;
    }
    return undefined;
  });

/** Body of `POST /api/v1/waitpoints/tokens` (Trigger.dev's CreateWaitpointTokenRequestBody). */
export class CreateTokenBody {
  @ApiPropertyOptional({
    minLength: 1,
    maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
    description: `While its reservation lives, a create with the same key returns the original token (isCached: true). At most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters and ${MAX_IDEMPOTENCY_KEY_BYTES} bytes in UTF-8`,
  })
  @Optional()
  @IsString({ message: 'idempotencyKey must be a string' })
  @MinLength(1, { message: 'idempotencyKey must not be empty' })
  @MaxLength(MAX_IDEMPOTENCY_KEY_LENGTH, { message: `idempotencyKey must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters` })
  @IsWithinUtf8Bytes(MAX_IDEMPOTENCY_KEY_BYTES)
  @IsStorableText()
  idempotencyKey?: string;

  @ApiPropertyOptional({
    default: '1h',
    example: '24h',
    description: 'How long the idempotency key stays reserved: a duration (30s, 10m, 2h, 3d, 4w, 1h30m); at most 100 years',
  })
  @Optional()
  @IsBoundedDuration()
  idempotencyKeyTTL?: string;

  @ApiPropertyOptional({
    default: '10m',
    example: '1h',
    description: 'A duration (30s, 10m, 2h/2hr, 3d, 4w, 1h30m) or a future ISO 8601 date; at most 100 years',
  })
  @Optional()
  @IsTimeout()
  timeout?: string;

  @ApiPropertyOptional({
    oneOf: [
      { type: 'string', maxLength: MAX_TAG_LENGTH },
      { type: 'array', items: { type: 'string', maxLength: MAX_TAG_LENGTH }, maxItems: MAX_TAGS },
    ],
    description: `One tag or at most ${MAX_TAGS}, each at most ${MAX_TAG_LENGTH} characters`,
  })
  @Optional()
  @IsTags()
  tags?: string | string[];

  @ApiPropertyOptional({
    type: () => ApprovalRequestBody,
    description:
      'Waitpoints extension (the official SDK never sends it): gives the token an approval page, whose signed URL the create ' +
      'response carries as approvalUrl. Plain text, no other fields; approving or rejecting there completes the token with ' +
      '{"approved": true|false, "comment"?} through the channel approval_page.',
  })
  @Optional()
  @Rule('isApproval', approvalProblem)
  approval?: Record<string, unknown>;

  @ApiPropertyOptional({
    example: '5m',
    description:
      'Waitpoints extension: the token also times out when no heartbeat (POST …/:id/heartbeat) arrives for this long; ' +
      'the first period starts at creation. A duration (30s, 10m, 2h, 1h30m); at most 100 years',
  })
  @Optional()
  @IsBoundedDuration()
  heartbeatTimeout?: string;

  /** The command this (valid) body asks for; a relative timeout counts from `now`. */
  toCommand(now: Date, context: Pick<CreateTokenCommand, 'environment' | 'requestIdempotencyKey' | 'metadata'>): CreateTokenCommand {
    const timeout = parseTimeout(this.timeout ?? DEFAULT_TIMEOUT, now);
    // Validated a moment ago, but a timeout date may have passed since.
    if (!timeout.ok) throw ApiError.badRequest(timeout.message);
    return {
      ...context,
      idempotencyKey: this.idempotencyKey,
      idempotencyKeyTTLMs: parseDuration(this.idempotencyKeyTTL ?? DEFAULT_IDEMPOTENCY_KEY_TTL)!,
      timeout: timeout.value,
      tags: this.tags === undefined ? [] : typeof this.tags === 'string' ? [this.tags] : this.tags,
      ...(this.approval !== undefined && { approval: toApprovalRequest(this.approval) }),
      ...(this.heartbeatTimeout !== undefined && { heartbeatTimeoutMs: parseDuration(this.heartbeatTimeout) }),
    };
  }
}
