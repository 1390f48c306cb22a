import {
  IsString,
  MaxLength,
  MinLength,
  ValidateBy,
  ValidateIf,
  ValidationOptions,
} from 'class-validator';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { unstorableText } from '../http/storable-text';
import {
  MAX_IDEMPOTENCY_KEY_BYTES,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  parseBoundedDuration,
  parseTimeout,
} from '@waitpoints/contracts';

/** A positive duration of at most 100 years (a longer one would overflow the stored date). */
function IsBoundedDuration(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isBoundedDuration',
      validator: {
        validate: (value: unknown, args) => parseBoundedDuration(args?.property ?? 'value', value).ok,
        defaultMessage: (args) => {
          const result = parseBoundedDuration(args?.property ?? 'value', args?.value);
          return result.ok ? '' : result.message;
        },
      },
    },
    options,
  );
}

function IsWithinUtf8Bytes(max: number, options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isWithinUtf8Bytes',
      validator: {
        // A string already too long in characters gets that message alone.
        validate: (value: unknown) => typeof value !== 'string' || value.length > max || Buffer.byteLength(value, 'utf8') <= max,
        defaultMessage: (args) =>
          `${args?.property} must be at most ${max} bytes in UTF-8 (this one has ${Buffer.byteLength(String(args?.value), 'utf8')})`,
      },
    },
    options,
  );
}

function IsTimeout(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isTimeout',
      validator: {
        validate: (value: unknown) => parseTimeout(value, new Date()).ok,
        defaultMessage: (args) => {
          const result = parseTimeout(args?.value, new Date());
          return result.ok ? '' : result.message;
        },
      },
    },
    options,
  );
}

function IsTags(options?: ValidationOptions) {
  const problem = (value: unknown): string | undefined => {
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
  };
  return ValidateBy(
    {
      name: 'isTags',
      validator: {
        validate: (value: unknown) => problem(value) === undefined,
        defaultMessage: (args) => problem(args?.value) ?? '',
      },
    },
    options,
  );
}

function IsStorableText(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isStorableText',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || unstorableText(value) === undefined,
        defaultMessage: (args) => `${args?.property} ${unstorableText(String(args?.value))}`,
      },
    },
    options,
  );
}

/**
 * Optional means absent, as in the SDK's schema: unlike class-validator's IsOptional, a
 * `null` is validated (and refused) rather than waved through to the command.
 */
const Optional = () => ValidateIf((_object, value) => value !== undefined);

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

  @ApiPropertyOptional({ default: '1h', example: '24h', description: 'How long the idempotency key stays reserved: a duration (30s, 10m, 2h, 3d, 4w, 1h30m); at most 100 years' })
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
    example: '5m',
    description:
      'Waitpoints extension: the token also times out when no heartbeat (POST …/:id/heartbeat) arrives for this long; ' +
      'the first period starts at creation. A duration (30s, 10m, 2h, 1h30m); at most 100 years',
  })
  @Optional()
  @IsBoundedDuration()
  heartbeatTimeout?: string;
}
