import { CreateTokenBody } from '../tokens/create-token/create-token.request.dto';
import { parseListQuery } from '../tokens/list-tokens/list-tokens.request.dto';
import { nestingDeeperThan } from './body-parsers';
import { problemsOf, toDto } from './request-validation';
import { unstorableText } from './storable-text';

/** Defects found by the property-based hostile-input suite (test/e2e/hostile-input.e2e-spec.ts), pinned down. */
describe('hostile input', () => {
  it('measures JSON nesting without parsing, ignoring brackets inside strings', () => {
    expect(nestingDeeperThan('{"tags":["a","b"]}', 2)).toBe(false);
    expect(nestingDeeperThan('{"tags":[["a"]]}', 2)).toBe(true);
    expect(nestingDeeperThan('{"tags":"[[[[[[[[[["}', 2)).toBe(false);
    expect(nestingDeeperThan('{"a":"\\"[[[[["}', 1)).toBe(false);
    expect(nestingDeeperThan('['.repeat(100_000), 8)).toBe(true);
  });

  it('finds text PostgreSQL cannot store: NUL characters and unpaired surrogates', () => {
    expect(unstorableText('plain, ünïcödé and 🙂')).toBeUndefined();
    expect(unstorableText('a\u0000b')).toMatch(/NUL/);
    expect(unstorableText('\uD800')).toMatch(/surrogate/);
    expect(unstorableText('x\uDC00')).toMatch(/surrogate/);
    expect(unstorableText('\uD83D\uDE42')).toBeUndefined();
  });

  const problems = (body: object) => problemsOf(toDto(CreateTokenBody, body));

  it('refuses null for every create field (optional means absent)', () => {
    for (const field of ['idempotencyKey', 'idempotencyKeyTTL', 'timeout', 'tags']) {
      expect({ field, refused: problems({ [field]: null }).length > 0 }).toEqual({ field, refused: true });
    }
  });

  it('refuses tags and idempotency keys that cannot be stored', () => {
    expect(problems({ tags: ['ok', 'a\u0000b'] })).toEqual(['tags: a tag contains a NUL character (\\u0000)']);
    expect(problems({ idempotencyKey: '\uD800' })).toEqual(['idempotencyKey contains an unpaired UTF-16 surrogate (not valid Unicode)']);
  });

  it('refuses a single-valued list parameter given twice, and unstorable filter text', () => {
    const now = new Date();
    expect(parseListQuery({ 'page[size]': ['10', '10'] }, now)).toEqual({
      ok: false,
      message: 'page[size] was given 2 times; give it once',
    });
    expect(parseListQuery({ 'filter[tags]': ['a', 'b'] }, now)).toMatchObject({ ok: true, value: { tags: ['a', 'b'] } });
    expect(parseListQuery({ 'filter[tags]': 'a\u0000' }, now)).toMatchObject({ ok: false });
    expect(parseListQuery({ 'filter[idempotencyKey]': '\uDFFF' }, now)).toMatchObject({ ok: false });
  });
});
