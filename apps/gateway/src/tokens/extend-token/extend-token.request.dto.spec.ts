import { problemsOf, toDto } from '../../http/request-validation';
import { ExtendTokenRequest } from './extend-token.request.dto';

const problems = (raw: object) => problemsOf(toDto(ExtendTokenRequest, raw));
const context = { environment: 'dev', tokenId: 't', metadata: { correlationId: 'c', actor: { type: 'api_key' as const } } };

describe('ExtendTokenRequest', () => {
  it('takes a duration from now or a future date', () => {
    expect(problems({ timeout: '2h' })).toEqual([]);
    expect(problems({ timeout: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
  });

  it.each([
    [{}, /^timeout is required/],
    [{ timeout: 'whenever' }, /not valid/],
    [{ timeout: '2001-01-01T00:00:00Z' }, /in the past/],
    [{ timeout: 5 }, /^timeout must be a string/],
  ])('refuses %j', (raw, message) => {
    const found = problems(raw);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('asks for the new timeout as create does: a duration stays relative, a date is absolute', () => {
    expect(toDto(ExtendTokenRequest, { timeout: '90m' }).toCommand(new Date(), context)).toEqual({
      ...context,
      timeout: { afterMs: 5_400_000 },
    });
    const at = '2100-01-01T00:00:00.000Z';
    expect(toDto(ExtendTokenRequest, { timeout: at }).toCommand(new Date(), context)).toEqual({ ...context, timeout: { at } });
  });

  it('answers 400 when the date passed between validation and the command', () => {
    const body = toDto(ExtendTokenRequest, { timeout: '2030-01-01T00:00:00Z' });
    expect(() => body.toCommand(new Date('2031-01-01T00:00:00Z'), context)).toThrow(expect.objectContaining({ status: 400 }));
  });
});
