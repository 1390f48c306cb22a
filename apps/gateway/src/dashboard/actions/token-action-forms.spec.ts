import { problemsOf, toDto } from '../../http/request-validation';
import { CancelTokenForm, CompleteTokenForm, TimeoutTokenForm, readPayload } from './token-action-forms';

describe("the token page's payload field", () => {
  it('takes any JSON value, stored as the API stores it', () => {
    expect(readPayload('{ "approved": true }')).toEqual({ ok: true, output: '{"approved":true}' });
    expect(readPayload('null')).toEqual({ ok: true, output: 'null' });
    expect(readPayload('['.repeat(5_000) + ']'.repeat(5_000))).toEqual({ ok: true, output: '['.repeat(5_000) + ']'.repeat(5_000) });
  });

  it.each([
    ['nothing', '', 'enter a JSON value, for example {"approved": true}, {} or null'],
    ['blanks', '   ', 'enter a JSON value, for example {"approved": true}, {} or null'],
    ['what is not JSON', '{approved: yes}', 'the payload is not valid JSON ('],
    ['more than 3 MiB', JSON.stringify('x'.repeat(3 * 1024 * 1024)), 'the payload is larger than 3 MiB'],
    [
      'JSON nested 5,001 levels deep',
      '['.repeat(5_001) + ']'.repeat(5_001),
      'the payload is nested too deeply to store: at most 5,000 levels',
    ],
  ])('refuses %s, saying why', (_label, text, message) => {
    const reading = readPayload(text);
    expect(!reading.ok && reading.message.startsWith(message)).toBe(true);
  });
});

describe('the action forms', () => {
  it('complete: refused with the reason while the payload is not valid, keeping what was typed', () => {
    const form = toDto(CompleteTokenForm, { csrf: 'c', data: '{oops', confirmed: 'yes' });
    expect(problemsOf(form)[0]).toMatch(/^the payload is not valid JSON/);
    expect({ draft: form.draft, isConfirmed: form.isConfirmed }).toEqual({ draft: '{oops', isConfirmed: true });
    // A repeated field arrives as a list: not a payload.
    expect(problemsOf(toDto(CompleteTokenForm, { data: ['1', '2'] }))).toEqual([
      'enter a JSON value, for example {"approved": true}, {} or null',
    ]);
  });

  it('complete: a valid payload becomes the output', () => {
    const form = toDto(CompleteTokenForm, { data: ' [1, 2] ' });
    expect(problemsOf(form)).toEqual([]);
    expect(form.output).toBe('[1,2]');
  });

  it('timeout: nothing to fill in but the confirmation', () => {
    expect(problemsOf(toDto(TimeoutTokenForm, {}))).toEqual([]);
    expect(toDto(TimeoutTokenForm, { confirmed: 'no' }).isConfirmed).toBe(false);
  });

  it('cancel: the reason is trimmed and cut to 1000 characters; blank is none', () => {
    expect(toDto(CancelTokenForm, { reason: '  duplicate order  ' }).reasonText).toBe('duplicate order');
    expect(toDto(CancelTokenForm, { reason: 'r'.repeat(1200) }).reasonText).toHaveLength(1000);
    expect(toDto(CancelTokenForm, { reason: '   ' }).reasonText).toBeUndefined();
    expect(problemsOf(toDto(CancelTokenForm, { reason: ['a', 'b'] }))).toEqual([]);
  });
});
