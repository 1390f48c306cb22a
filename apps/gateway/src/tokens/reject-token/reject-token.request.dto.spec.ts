import { problemsOf, toDto } from '../../http/request-validation';
import { RejectTokenRequest } from './reject-token.request.dto';

const problems = (raw: object) => problemsOf(toDto(RejectTokenRequest, raw));
const context = {
  environment: 'dev',
  tokenId: 't',
  channel: 'api' as const,
  metadata: { correlationId: 'c', actor: { type: 'api_key' as const } },
};

describe('RejectTokenRequest', () => {
  it('takes an error with a message and, optionally, a code', () => {
    expect(problems({ error: { message: 'no' } })).toEqual([]);
    expect(problems({ error: { message: 'm'.repeat(4096), code: 'C'.repeat(128) } })).toEqual([]);
  });

  it.each([
    [{}, /^error is required/],
    [{ error: 'no' }, /^error must be an object/],
    [{ error: null }, /^error must be an object/],
    [{ error: {} }, /^error.message must be a non-empty string$/],
    [{ error: { message: ' ' } }, /^error.message must be a non-empty string$/],
    [{ error: { message: 42 } }, /^error.message must be a non-empty string$/],
    [{ error: { message: 'x', code: 7 } }, /^error.code must be a non-empty string$/],
    [{ error: { message: 'x'.repeat(4097) } }, /at most 4096 characters \(this one has 4097\)/],
    [{ error: { message: 'x', code: 'C'.repeat(129) } }, /at most 128 characters/],
    [{ error: { message: 'x', detail: 'y' } }, /^unknown field "error.detail"; accepted fields: error.message, error.code$/],
    [{ error: { message: 'a\u0000b' } }, /^error.message contains a NUL character/],
  ])('refuses %j, saying what to send', (raw, message) => {
    const found = problems(raw);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('asks for the rejection with the message and the code given, and nothing else', () => {
    expect(toDto(RejectTokenRequest, { error: { message: 'no', code: 'E_NO' } }).toCommand(context)).toEqual({
      ...context,
      error: { message: 'no', code: 'E_NO' },
    });
    expect(toDto(RejectTokenRequest, { error: { message: 'no' } }).toCommand(context)).toEqual({ ...context, error: { message: 'no' } });
  });
});
