import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { APPROVAL_LIMITS, ApprovalRequest, DEFAULT_APPROVE_LABEL, DEFAULT_REJECT_LABEL } from '@waitpoints/contracts';
import { unstorableText } from '../../http/storable-text';

const TEXT_FIELDS: Record<string, number> = {
  title: APPROVAL_LIMITS.title,
  description: APPROVAL_LIMITS.description,
  approveLabel: APPROVAL_LIMITS.label,
  rejectLabel: APPROVAL_LIMITS.label,
};
export const APPROVAL_FIELDS = [...Object.keys(TEXT_FIELDS), 'commentRequired'];

/**
 * What is wrong with the create body's `approval` object, if anything: plain-text fields of
 * bounded length (the page escapes them), a non-blank title, nothing unknown.
 */
export function approvalProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'approval must be an object such as {"title": "Deploy to production?"}';
  }
  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !APPROVAL_FIELDS.includes(key));
  if (unknown !== undefined) return `approval: unknown field "${unknown.slice(0, 100)}"; accepted fields: ${APPROVAL_FIELDS.join(', ')}`;
  if (fields.title === undefined) return 'approval.title is required';
  for (const [field, max] of Object.entries(TEXT_FIELDS)) {
    const text = fields[field];
    if (text === undefined) continue;
    if (typeof text !== 'string') return `approval.${field} must be a string`;
    if (text.trim() === '') return `approval.${field} must not be blank`;
    if (text.length > max) return `approval.${field} must be at most ${max} characters (this one has ${text.length})`;
    const unstorable = unstorableText(text);
    if (unstorable) return `approval.${field} ${unstorable}`;
  }
  if (fields.commentRequired !== undefined && typeof fields.commentRequired !== 'boolean') {
    return 'approval.commentRequired must be true or false';
  }
  return undefined;
}

/** The approval of a valid body, with only the fields given. */
export function toApprovalRequest(value: Record<string, unknown>): ApprovalRequest {
  const approval: ApprovalRequest = { title: value.title as string };
  for (const field of ['description', 'approveLabel', 'rejectLabel'] as const) {
    if (typeof value[field] === 'string') approval[field] = value[field] as string;
  }
  if (value.commentRequired === true) approval.commentRequired = true;
  return approval;
}

/** The `approval` object as the API description shows it (validated by approvalProblem, not by these decorators). */
export class ApprovalRequestBody implements ApprovalRequest {
  @ApiProperty({
    minLength: 1,
    maxLength: APPROVAL_LIMITS.title,
    description: "The question, as the page's heading",
    example: 'Deploy v2.3 to production?',
  })
  title!: string;

  @ApiPropertyOptional({ maxLength: APPROVAL_LIMITS.description, description: 'More context; line breaks are kept' })
  description?: string;

  @ApiPropertyOptional({ maxLength: APPROVAL_LIMITS.label, default: DEFAULT_APPROVE_LABEL })
  approveLabel?: string;

  @ApiPropertyOptional({ maxLength: APPROVAL_LIMITS.label, default: DEFAULT_REJECT_LABEL })
  rejectLabel?: string;

  @ApiPropertyOptional({ default: false, description: 'The approver must write a comment to approve or reject' })
  commentRequired?: boolean;
}
