import { problemsOf, toDto } from '../../http/request-validation';
import { CompleteTokenRequest } from './complete-token.request.dto';

const body = (raw: object) => toDto(CompleteTokenRequest, raw);
const context = {
  environment: 'dev',
  tokenId: 't',
  channel: 'api' as const,
  metadata: { correlationId: 'c', actor: { type: 'api_key' as const } },
};

describe('CompleteTokenRequest', () => {
  it('takes any JSON value as data, null included, or none at all', () => {
    for (const data of [undefined, null, 0, 'yes', [1, [2]], { approved: true }]) expect(problemsOf(body({ data }))).toEqual([]);
  });

  it('refuses data nested deeper than 5,000 levels, naming the limit', () => {
    const deep = (depth: number) => JSON.parse('['.repeat(depth) + ']'.repeat(depth));
    expect(problemsOf(body({ data: deep(5_000) }))).toEqual([]);
    expect(problemsOf(body({ data: deep(5_001) }))).toEqual([
      'data is nested too deeply to store: at most 5,000 levels of arrays and objects',
    ]);
  });

  it('asks to complete with the data as JSON text, or without an output when there is none', () => {
    expect(body({ data: { approved: true } }).toCommand(context)).toEqual({
      ...context,
      output: '{"approved":true}',
      outputType: 'application/json',
    });
    expect(body({ data: null }).toCommand(context).output).toBe('null');
    expect(body({}).toCommand(context).output).toBeUndefined();
  });
});
