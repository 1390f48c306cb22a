import { IsString } from 'class-validator';
import { ApiError } from './api-error';
import { Optional, RequestBodyPipe, Rule, declaredFields, problemsOf, toDto } from './request-validation';

class Greeting {
  @Optional()
  @IsString({ message: 'name must be a string' })
  name?: string;

  @Rule('isPolite', (value, field) => (value === 'please' ? undefined : `${field} must be "please"`))
  word?: string;
}

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return { status: (error as ApiError).getStatus(), body: (error as ApiError).getResponse() };
  }
  throw new Error('not refused');
};

describe('request DTOs', () => {
  it('declare the fields that carry a rule, in the order they are written', () => {
    expect(declaredFields(Greeting)).toEqual(['name', 'word']);
  });

  it('are built from the declared own fields of the input and nothing else', () => {
    const raw = JSON.parse('{"name":"Ada","word":"please","__proto__":{"polluted":true},"extra":1}');
    const dto = toDto(Greeting, raw);
    expect(dto).toBeInstanceOf(Greeting);
    expect({ ...dto }).toEqual({ name: 'Ada', word: 'please' });
    expect((dto as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('are built without walking nested values, so any depth is safe', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000));
    expect(toDto(Greeting, { name: deep }).name).toBe(deep);
  });

  it('report every problem once, field by field; optional means absent, so null is checked', () => {
    expect(problemsOf(toDto(Greeting, { word: 'please' }))).toEqual([]);
    expect(problemsOf(toDto(Greeting, { name: null, word: 'now' }))).toEqual(['name must be a string', 'word must be "please"']);
  });
});

describe('a request body pipe', () => {
  const pipe = new RequestBodyPipe(Greeting);

  it('hands over the DTO of a valid body', () => {
    expect(pipe.transform({ word: 'please' })).toEqual(Object.assign(new Greeting(), { word: 'please' }));
  });

  it('refuses the first unknown field alone, named by its first 100 characters, listing the accepted ones', () => {
    expect(refusal(() => pipe.transform({ word: 'now', ['x'.repeat(150)]: 1, other: 2 }))).toEqual({
      status: 400,
      body: { error: `unknown field "${'x'.repeat(100)}"; accepted fields: name, word` },
    });
  });

  it('says what to send instead when the route has its own words for it', () => {
    const hinted = new RequestBodyPipe(Greeting, ': send {"word": "please"}');
    expect(refusal(() => hinted.transform({ wrod: 'please' })).body).toEqual({ error: 'unknown field "wrod": send {"word": "please"}' });
  });

  it('takes a DTO that declares no fields as one that accepts only {}', () => {
    class Nothing {}
    const empty = new RequestBodyPipe(Nothing, ': send {}');
    expect(empty.transform({})).toBeInstanceOf(Nothing);
    expect(refusal(() => empty.transform({ any: 1 })).body).toEqual({ error: 'unknown field "any": send {}' });
  });

  it('answers all problems of a body at once', () => {
    expect(refusal(() => pipe.transform({ name: 1, word: 'now' }))).toEqual({
      status: 400,
      body: { error: 'name must be a string; word must be "please"' },
    });
  });
});
