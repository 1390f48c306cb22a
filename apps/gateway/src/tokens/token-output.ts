import { MiB } from '../http/body-parsers';

/**
 * What a token's output may be, wherever it comes from (complete's `data`, a callback URL's
 * body, the dashboard's payload field): any JSON value in a body of at most 3 MiB (the SDK's
 * payload limit), nested at most MAX_OUTPUT_DEPTH levels of arrays and objects.
 *
 * The depth limit is explicit so that it does not depend on how much stack is left: outputs
 * used to be refused only when JSON.stringify ran out of stack, which happened somewhere past
 * 4,100 levels depending on the route, and an output just under that was stored and then
 * broke every page that re-serialized it. Outputs are serialized without recursion here, and
 * every rendering of them is depth-safe (see dashboard/views/format.ts).
 */
export const MAX_OUTPUT_DEPTH = 5_000;
export const MAX_OUTPUT_BODY_BYTES = 3 * MiB;

/** Why `value` (parsed JSON) cannot be an output, or undefined when it can; `subject` names it in the message. */
export function outputProblem(value: unknown, subject = 'data'): string | undefined {
  return nestedDeeperThan(value, MAX_OUTPUT_DEPTH)
    ? `${subject} is nested too deeply to store: at most ${MAX_OUTPUT_DEPTH.toLocaleString('en-US')} levels of arrays and objects`
    : undefined;
}

/** Whether arrays and objects in `value` nest deeper than `max` levels (`[]` is one level). Iterative: any depth can be measured. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const pending: { value: object; depth: number }[] = [];
  const visit = (item: unknown, depth: number) => {
    if (item !== null && typeof item === 'object') pending.push({ value: item, depth });
  };
  visit(value, 1);
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.depth > max) return true;
    for (const child of Array.isArray(next.value) ? next.value : Object.values(next.value)) visit(child, next.depth + 1);
  }
  return false;
}

/**
 * The output text of a parsed JSON value: exactly what JSON.stringify writes, at any depth.
 * JSON.stringify itself recurses and runs out of stack a few thousand levels down, so a value
 * that deep is written by an explicit stack instead.
 */
export function toOutputText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return stringifyWithoutRecursion(value);
  }
}

interface OpenContainer {
  value: unknown[] | Record<string, unknown>;
  /** Object keys, in JSON.stringify's order; absent for arrays. */
  keys?: string[];
  next: number;
}

function stringifyWithoutRecursion(root: unknown): string {
  const parts: string[] = [];
  const open: OpenContainer[] = [];
  const write = (value: unknown) => {
    if (value === null || typeof value !== 'object') {
      // Values parsed from JSON: strings, numbers (Infinity from 1e999 writes null), booleans, null.
      parts.push(JSON.stringify(value) ?? 'null');
    } else if (Array.isArray(value)) {
      parts.push('[');
      open.push({ value, next: 0 });
    } else {
      parts.push('{');
      open.push({ value: value as Record<string, unknown>, keys: Object.keys(value), next: 0 });
    }
  };
  write(root);
  while (open.length > 0) {
    const container = open[open.length - 1];
    const { keys } = container;
    const size = keys ? keys.length : (container.value as unknown[]).length;
    if (container.next === size) {
      parts.push(keys ? '}' : ']');
      open.pop();
      continue;
    }
    const index = container.next++;
    if (index > 0) parts.push(',');
    if (keys) {
      parts.push(JSON.stringify(keys[index]), ':');
      write((container.value as Record<string, unknown>)[keys[index]]);
    } else {
      write((container.value as unknown[])[index]);
    }
  }
  return parts.join('');
}
