import { completedToken, completionOf } from '../../../../../test/support/token-fixtures';
import { displayableJson, prettyJson, prettyValue } from './format';
import { tokenDetailFragment } from './token-detail';

const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('JSON shown on the dashboard', () => {
  it('is pretty-printed while shallow and small', () => {
    expect(prettyJson('{"approved":true,"by":["ada"]}')).toBe('{\n  "approved": true,\n  "by": [\n    "ada"\n  ]\n}');
    expect(prettyJson('"hello"')).toBe('"hello"');
  });

  it('is shown as stored when deeper than 32 levels or longer than 256 KiB (indentation would grow without bound)', () => {
    for (const text of [deepArray(33), deepArray(5_000), deepArray(1_000_000), JSON.stringify(['x'.repeat(256 * 1024)])]) {
      expect(prettyJson(text)).toBe(text);
    }
    expect(prettyJson(deepArray(32))).not.toBe(deepArray(32));
  });

  it('is shown as it is when it is not JSON at all (a preview cut short, say)', () => {
    expect(prettyJson('{"cut": "sho')).toBe('{"cut": "sho');
    expect(displayableJson('{"cut": "sho')).toBe('{"cut": "sho');
  });

  it('never fails a page: a value that cannot be printed says so', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(prettyValue(cyclic)).toBe('(this value cannot be shown)');
  });
});

describe('the token page', () => {
  const output = deepArray(5_000);
  const token = completedToken(output);

  it('shows an output nested 5,000 levels deep as stored, in the output and in the timeline (this was a 500 for ever)', () => {
    const fragment = tokenDetailFragment({
      token,
      events: [completionOf(token)],
      callbackUrl: 'http://x/cb',
      now: new Date('2030-01-01T00:00:00Z'),
    });
    // (Booleans: a failure would otherwise print the 10,000 brackets.)
    expect(fragment.includes(`<pre class="json" data-testid="output">${output}</pre>`)).toBe(true);
    expect(fragment.includes(`&quot;output&quot;: &quot;${output}&quot;`)).toBe(true);
  });
});
