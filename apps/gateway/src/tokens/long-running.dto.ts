import {
  MAX_REJECTION_CODE_LENGTH,
  MAX_REJECTION_MESSAGE_LENGTH,
  RejectionError,
  TimeoutSpec,
  parseTimeout,
} from '@waitpoints/contracts';
import { ApiError } from '../http/api-error';
import { unstorableText } from '../http/storable-text';

/**
 * Bodies of the long-running-token routes (Waitpoints extensions): reject, extend, heartbeat.
 * Each is checked whole, with a 400 that names the field and says what to send instead;
 * unknown fields are refused (a typo must not pass as "no value").
 */

/** `POST …/:id/reject`: `{ "error": { "message": "…", "code"?: "…" } }`. */
export interface RejectTokenBody {
  error: RejectionError;
}

/** `POST …/:id/extend`: `{ "timeout": "<duration from now, or ISO date>" }`. */
export interface ExtendTokenBody {
  timeout: string;
}

/** Largest reject body: the longest message and code, each up to 4 bytes a character in UTF-8, and room for the JSON around them. */
export const REJECT_BODY_LIMIT_BYTES = 4 * (MAX_REJECTION_MESSAGE_LENGTH + MAX_REJECTION_CODE_LENGTH) + 1024;

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function refuseUnknownFields(value: Record<string, unknown>, accepted: string[], where = ''): void {
  const unknown = Object.keys(value).find((key) => !accepted.includes(key));
  if (unknown !== undefined) {
    throw ApiError.badRequest(
      `unknown field "${where}${unknown.slice(0, 100)}"; accepted fields: ${accepted.length > 0 ? accepted.map((f) => where + f).join(', ') : 'none'}`,
    );
  }
}

function text(field: string, value: unknown, maxLength: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw ApiError.badRequest(`${field} must be a non-empty string`);
  if (value.length > maxLength) throw ApiError.badRequest(`${field} must be at most ${maxLength} characters (this one has ${value.length})`);
  const unstorable = unstorableText(value);
  if (unstorable) throw ApiError.badRequest(`${field} ${unstorable}`);
  return value;
}

export function parseRejectBody(body: unknown): RejectionError {
  const example = 'send {"error": {"message": "why", "code": "OPTIONAL_CODE"}}';
  if (!isObject(body)) throw ApiError.badRequest(`Request body must be a JSON object: ${example}`);
  refuseUnknownFields(body, ['error']);
  if (body.error === undefined) throw ApiError.badRequest(`error is required: ${example}`);
  if (!isObject(body.error)) throw ApiError.badRequest(`error must be an object: ${example}`);
  refuseUnknownFields(body.error, ['message', 'code'], 'error.');
  const error: RejectionError = { message: text('error.message', body.error.message, MAX_REJECTION_MESSAGE_LENGTH) };
  if (body.error.code !== undefined) error.code = text('error.code', body.error.code, MAX_REJECTION_CODE_LENGTH);
  return error;
}

/** The new timeout, parsed like create's: a duration from now, or a future ISO 8601 date. */
export function parseExtendBody(body: unknown, now: Date): TimeoutSpec {
  const example = 'send {"timeout": "1h"} (a duration from now) or {"timeout": "2030-01-01T00:00:00Z"}';
  if (!isObject(body)) throw ApiError.badRequest(`Request body must be a JSON object: ${example}`);
  refuseUnknownFields(body, ['timeout']);
  if (body.timeout === undefined) throw ApiError.badRequest(`timeout is required: ${example}`);
  const timeout = parseTimeout(body.timeout, now);
  if (!timeout.ok) throw ApiError.badRequest(timeout.message);
  return timeout.value;
}

/** A heartbeat carries nothing: an empty body or `{}`. */
export function parseHeartbeatBody(body: unknown): void {
  if (isObject(body)) refuseUnknownFields(body, []);
}
