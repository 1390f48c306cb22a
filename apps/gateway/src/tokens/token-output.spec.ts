import fc from 'fast-check';
import { MAX_OUTPUT_DEPTH, nestedDeeperThan, outputProblem, toOutputText } from './token-output';

const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('token outputs', () => {
  it('measure nesting by arrays and objects: [] is one level, scalars none', () => {
    expect(nestedDeeperThan(1, 0)).toBe(false);
    expect(nestedDeeperThan([], 0)).toBe(true);
    expect(nestedDeeperThan([], 1)).toBe(false);
    expect(nestedDeeperThan({ a: [1, { b: 'x' }] }, 2)).toBe(true);
    expect(nestedDeeperThan({ a: [1, { b: 'x' }] }, 3)).toBe(false);
    expect(nestedDeeperThan(JSON.parse(deepArray(1_000_000)), MAX_OUTPUT_DEPTH)).toBe(true);
  });

  it(`may nest ${MAX_OUTPUT_DEPTH} levels and no more, whatever the stack allows`, () => {
    expect(outputProblem(JSON.parse(deepArray(MAX_OUTPUT_DEPTH)))).toBeUndefined();
    expect(outputProblem(JSON.parse(deepObject(MAX_OUTPUT_DEPTH)))).toBeUndefined();
    expect(outputProblem(JSON.parse(deepArray(MAX_OUTPUT_DEPTH + 1)))).toBe(
      'data is nested too deeply to store: at most 5,000 levels of arrays and objects',
    );
    expect(outputProblem(JSON.parse(deepArray(MAX_OUTPUT_DEPTH + 1)), 'the payload')).toMatch(/^the payload is nested too deeply/);
  });

  it('are written exactly as JSON.stringify writes them', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const parsed = JSON.parse(JSON.stringify(value));
        expect(toOutputText(parsed)).toBe(JSON.stringify(parsed));
      }),
      { numRuns: 500 },
    );
    // What JSON.parse makes of a number too large for a double, and of keys that look special.
    expect(toOutputText(JSON.parse('{"big":1e999,"__proto__":{"x":-0},"2":"b","1":"a"}'))).toBe(
      '{"1":"a","2":"b","big":null,"__proto__":{"x":0}}',
    );
  });

  it('are written at any depth, also where JSON.stringify runs out of stack', () => {
    const mixed = `{"k":[1,"é\\u0000",${deepArray(49_997)},{"z":null}]}`;
    for (const text of [deepArray(50_000), deepObject(50_000), mixed]) {
      const value = JSON.parse(text);
      expect(() => JSON.stringify(value)).toThrow(RangeError);
      expect(toOutputText(value)).toBe(text);
    }
  });
});
