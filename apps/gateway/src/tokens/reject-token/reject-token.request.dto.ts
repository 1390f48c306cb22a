import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MAX_REJECTION_CODE_LENGTH, MAX_REJECTION_MESSAGE_LENGTH, RejectTokenCommand, RejectionError } from '@waitpoints/contracts';
import { Rule } from '../../http/request-validation';
import { unstorableText } from '../../http/storable-text';

/** Largest reject body: the longest message and code, each up to 4 bytes a character in UTF-8, and room for the JSON around them. */
export const REJECT_BODY_LIMIT_BYTES = 4 * (MAX_REJECTION_MESSAGE_LENGTH + MAX_REJECTION_CODE_LENGTH) + 1024;

const EXAMPLE = 'send {"error": {"message": "why", "code": "OPTIONAL_CODE"}}';
const ERROR_FIELDS = ['message', 'code'];

function textProblem(field: string, value: unknown, maxLength: number): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return `${field} must be a non-empty string`;
  if (value.length > maxLength) return `${field} must be at most ${maxLength} characters (this one has ${value.length})`;
  const unstorable = unstorableText(value);
  return unstorable && `${field} ${unstorable}`;
}

/** What is wrong with the reject body's `error`, if anything: a non-empty message, an optional code, nothing else. */
export function rejectionErrorProblem(value: unknown): string | undefined {
  if (value === undefined) return `error is required: ${EXAMPLE}`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `error must be an object: ${EXAMPLE}`;
  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !ERROR_FIELDS.includes(key));
  if (unknown !== undefined) {
    return `unknown field "error.${unknown.slice(0, 100)}"; accepted fields: ${ERROR_FIELDS.map((field) => `error.${field}`).join(', ')}`;
  }
  return (
    textProblem('error.message', fields.message, MAX_REJECTION_MESSAGE_LENGTH) ??
    (fields.code === undefined ? undefined : textProblem('error.code', fields.code, MAX_REJECTION_CODE_LENGTH))
  );
}

/** The `error` object as the API description shows it (validated by rejectionErrorProblem, not by these decorators). */
export class RejectionErrorBody implements RejectionError {
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

/**
 * Body of `POST /api/v1/waitpoints/tokens/:id/reject` (our extension):
 * `{ "error": { "message": "…", "code"?: "…" } }`, at most REJECT_BODY_LIMIT_BYTES (see app.ts).
 */
export class RejectTokenRequest {
  @ApiProperty({ type: () => RejectionErrorBody })
  @Rule('isRejectionError', rejectionErrorProblem)
  error!: Record<string, unknown>;

  /** The command this (valid) body asks for. */
  toCommand(context: Omit<RejectTokenCommand, 'error'>): RejectTokenCommand {
    const error: RejectionError = { message: this.error.message as string };
    if (typeof this.error.code === 'string') error.code = this.error.code;
    return { ...context, error };
  }
}
