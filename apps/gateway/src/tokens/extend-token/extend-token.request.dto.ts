import { ApiProperty } from '@nestjs/swagger';
import { ExtendTokenCommand, parseTimeout } from '@waitpoints/contracts';
import { ApiError } from '../../http/api-error';
import { Rule } from '../../http/request-validation';

const EXAMPLE = 'send {"timeout": "1h"} (a duration from now) or {"timeout": "2030-01-01T00:00:00Z"}';

/** Body of `POST /api/v1/waitpoints/tokens/:id/extend` (our extension): `{ "timeout": "<duration from now, or ISO date>" }`. */
export class ExtendTokenRequest {
  @ApiProperty({
    example: '1h',
    description: 'The new timeout: a duration from now (30s, 10m, 2h, 1h30m) or a future ISO 8601 date; earlier than the current one too',
  })
  @Rule('isTimeout', (value) => {
    if (value === undefined) return `timeout is required: ${EXAMPLE}`;
    const result = parseTimeout(value, new Date());
    return result.ok ? undefined : result.message;
  })
  timeout!: string;

  /** The command this (valid) body asks for; a duration counts from `now` (parsed like create's timeout). */
  toCommand(now: Date, context: Omit<ExtendTokenCommand, 'timeout'>): ExtendTokenCommand {
    const timeout = parseTimeout(this.timeout, now);
    // Validated a moment ago, but a timeout date may have passed since.
    if (!timeout.ok) throw ApiError.badRequest(timeout.message);
    return { ...context, timeout: timeout.value };
  }
}
