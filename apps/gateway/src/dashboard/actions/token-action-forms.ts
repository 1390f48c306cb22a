import { Allow } from 'class-validator';
import { Rule } from '../../http/request-validation';
import { MAX_OUTPUT_BODY_BYTES, outputProblem, toOutputText } from '../../tokens/token-output';
import { MAX_REASON_LENGTH } from '../../tokens/cancel-token/cancel-token.request.dto';

/**
 * The forms of the token page's actions. Each also carries the session's CSRF token (checked
 * by SessionFormGuard before the form is read) and, once confirmed, `confirmed=yes`: without
 * it (no script to open the dialog) the server asks for the confirmation on a page of its own.
 */
export class TokenActionForm {
  @Allow()
  confirmed?: unknown;

  get isConfirmed(): boolean {
    return this.confirmed === 'yes';
  }
}

export type PayloadReading = { ok: true; output: string } | { ok: false; message: string };

/** The same rules as the API's complete route: any JSON value, at most 3 MiB, not nested too deeply. */
export function readPayload(text: string): PayloadReading {
  if (text.trim() === '') return { ok: false, message: 'enter a JSON value, for example {"approved": true}, {} or null' };
  if (Buffer.byteLength(text) > MAX_OUTPUT_BODY_BYTES) return { ok: false, message: 'the payload is larger than 3 MiB' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `the payload is not valid JSON (${(error as Error).message})` };
  }
  const problem = outputProblem(value, 'the payload');
  return problem ? { ok: false, message: problem } : { ok: true, output: toOutputText(value) };
}

/** Complete with a JSON payload typed into the page. */
export class CompleteTokenForm extends TokenActionForm {
  @Rule('isPayload', (value) => {
    const reading = readPayload(typeof value === 'string' ? value : '');
    return reading.ok ? undefined : reading.message;
  })
  data?: unknown;

  /** What was typed, kept on the page when it was refused. */
  get draft(): string {
    return typeof this.data === 'string' ? this.data : '';
  }

  /** The output text of a valid payload. */
  get output(): string {
    const reading = readPayload(this.draft);
    if (!reading.ok) throw new Error(`read an invalid payload: ${reading.message}`);
    return reading.output;
  }
}

/** Time out now, before the deadline. */
export class TimeoutTokenForm extends TokenActionForm {}

/** Cancel, with an optional reason. */
export class CancelTokenForm extends TokenActionForm {
  @Allow()
  reason?: unknown;

  /** Trimmed and cut to the API's limit (the field's maxlength says the same); blank is none. */
  get reasonText(): string | undefined {
    return typeof this.reason === 'string' && this.reason.trim() ? this.reason.trim().slice(0, MAX_REASON_LENGTH) : undefined;
  }
}
