/** A UTF-16 surrogate without its partner: no valid Unicode, so UTF-8 (and PostgreSQL) cannot hold it. */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a string given by a caller cannot be stored as text, if it cannot: PostgreSQL text and
 * jsonb refuse NUL characters, and an unpaired surrogate is not Unicode at all. Outputs are
 * exempt (they are stored as JSON text, where both are written as escapes).
 */
export function unstorableText(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character (\\u0000)';
  if (UNPAIRED_SURROGATE.test(value)) return 'contains an unpaired UTF-16 surrogate (not valid Unicode)';
  return undefined;
}
