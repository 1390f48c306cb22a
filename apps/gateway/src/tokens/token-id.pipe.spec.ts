import { ApiError } from '../http/api-error';
import { TokenIdPipe } from './token-id.pipe';

const id = '01jd0000000000000000000000';
const pipe = new TokenIdPipe();

function refusalOf(raw: string) {
  try {
    pipe.transform(raw);
  } catch (error) {
    return { status: (error as ApiError).getStatus(), body: (error as ApiError).getResponse() };
  }
  throw new Error(`${raw} was accepted`);
}

describe('token ids in paths', () => {
  it('are read with or without the waitpoint_ prefix', () => {
    expect(pipe.transform(`waitpoint_${id}`)).toBe(id);
    expect(pipe.transform(id)).toBe(id);
  });

  it.each([['nonsense'], ['waitpoint_'], [`waitpoint_${id}0`], [`WAITPOINT_${id}`], [id.toUpperCase()], ["' OR '1'='1"]])(
    'answer 404 for %p, which cannot be a token of ours (the answer for any unknown token)',
    (raw) => {
      expect(refusalOf(raw)).toEqual({ status: 404, body: { error: `Waitpoint token ${raw} not found` } });
    },
  );

  it('name at most 100 characters of what was given', () => {
    expect(refusalOf('x'.repeat(10_000)).body).toEqual({ error: `Waitpoint token ${'x'.repeat(100)} not found` });
  });
});
