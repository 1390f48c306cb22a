import { nestingDeeperThan } from '../http/body-parsers';

/**
 * Deepest nesting of arrays and objects accepted in an output. The bound is explicit so that the
 * answer does not depend on the Node.js version: JSON.stringify runs out of stack past about
 * 4,000 levels on Node 22 and 24, but not on Node 26, which would store such an output (and hand
 * it to readers on older versions that cannot serialize it again).
 */
export const MAX_OUTPUT_DEPTH = 1000;

/** An output as JSON text, or null when it is nested deeper than MAX_OUTPUT_DEPTH. */
export function outputJson(value: unknown): string | null {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    return null; // RangeError: too deep for this engine's stack
  }
  // Deeper than the bound takes at least two brackets a level.
  if (text !== undefined && text.length > 2 * MAX_OUTPUT_DEPTH && nestingDeeperThan(text, MAX_OUTPUT_DEPTH)) return null;
  return text;
}
