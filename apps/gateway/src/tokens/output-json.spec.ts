import { parsePayload } from '../dashboard/dashboard.controller';
import { MAX_OUTPUT_DEPTH, outputJson } from './output-json';

const nested = (depth: number) => JSON.parse('['.repeat(depth) + ']'.repeat(depth));

describe('outputJson: the output bound is the same on every Node.js version', () => {
  it('serializes outputs nested up to the bound', () => {
    expect(outputJson({ approved: true, tags: ['a'] })).toBe('{"approved":true,"tags":["a"]}');
    expect(outputJson(null)).toBe('null');
    expect(outputJson(nested(MAX_OUTPUT_DEPTH))).toBe('['.repeat(MAX_OUTPUT_DEPTH) + ']'.repeat(MAX_OUTPUT_DEPTH));
  });

  it('refuses one level more, and depths that JSON.stringify can (Node 26) or cannot (Node 22, 24) serialize', () => {
    expect(outputJson(nested(MAX_OUTPUT_DEPTH + 1))).toBeNull();
    expect(outputJson({ data: nested(MAX_OUTPUT_DEPTH) })).toBeNull();
    expect(outputJson(nested(100_000))).toBeNull();
  });

  it('does not count brackets inside strings', () => {
    const text = '['.repeat(5 * MAX_OUTPUT_DEPTH);
    expect(outputJson({ text })).toBe(JSON.stringify({ text }));
  });

  it('applies to the dashboard form too', () => {
    expect(parsePayload('['.repeat(100_000) + ']'.repeat(100_000))).toEqual({
      ok: false,
      message: `the payload is nested deeper than ${MAX_OUTPUT_DEPTH} levels`,
    });
    expect(parsePayload('{"approved": true}')).toEqual({ ok: true, output: '{"approved":true}' });
  });
});
