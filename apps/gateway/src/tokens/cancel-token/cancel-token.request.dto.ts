import { ApiPropertyOptional } from '@nestjs/swagger';
import { CancelTokenCommand } from '@waitpoints/contracts';
import { Rule } from '../../http/request-validation';
import { unstorableText } from '../../http/storable-text';

export const MAX_REASON_LENGTH = 1000;

/** Body of `POST /api/v1/waitpoints/tokens/:id/cancel` (our extension); may be empty. */
export class CancelTokenRequest {
  @ApiPropertyOptional({ maxLength: MAX_REASON_LENGTH, description: 'Put into the cancellation error message' })
  @Rule('isReason', (value) => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length > MAX_REASON_LENGTH)
      return `reason must be a string of at most ${MAX_REASON_LENGTH} characters`;
    const unstorable = unstorableText(value);
    return unstorable && `reason ${unstorable}`;
  })
  reason?: string;

  /** The command this (valid) body asks for. */
  toCommand(context: Omit<CancelTokenCommand, 'reason'>): CancelTokenCommand {
    return { ...context, reason: this.reason };
  }
}
