import { problemsOf, toDto } from '../../http/request-validation';
import { CancelTokenRequest } from './cancel-token.request.dto';

const problems = (raw: object) => problemsOf(toDto(CancelTokenRequest, raw));

describe('CancelTokenRequest', () => {
  it('takes no reason, or one of at most 1000 characters', () => {
    expect(problems({})).toEqual([]);
    expect(problems({ reason: 'r'.repeat(1000) })).toEqual([]);
  });

  it.each([[null], [42], [['a']], ['r'.repeat(1001)]])('refuses %p as reason', (reason) => {
    expect(problems({ reason })).toEqual(['reason must be a string of at most 1000 characters']);
  });

  it('refuses a reason PostgreSQL cannot store', () => {
    expect(problems({ reason: 'a\u0000b' })).toEqual(['reason contains a NUL character (\\u0000)']);
  });

  it('puts the reason into the command', () => {
    const context = { environment: 'dev', tokenId: 't', metadata: { correlationId: 'c', actor: { type: 'api_key' as const } } };
    expect(toDto(CancelTokenRequest, { reason: 'duplicate' }).toCommand(context)).toEqual({ ...context, reason: 'duplicate' });
  });
});
