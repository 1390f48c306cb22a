import { problemsOf, toDto } from '../../http/request-validation';
import { CreateTokenBody } from './create-token.request.dto';

const problems = (body: object) => problemsOf(toDto(CreateTokenBody, body));
const context = { environment: 'dev', metadata: { correlationId: 'c', actor: { type: 'api_key' as const, id: 'dev' } } };

describe('CreateTokenBody', () => {
  it('accepts the empty body and every documented field', () => {
    expect(problems({})).toEqual([]);
    expect(problems({ idempotencyKey: 'k', idempotencyKeyTTL: '24h', timeout: '1h30m', tags: ['a', 'b'] })).toEqual([]);
    expect(problems({ tags: 'single', timeout: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
  });

  it('names the field and the fix for a bad duration', () => {
    expect(problems({ idempotencyKeyTTL: '1 day' })).toEqual([
      'idempotencyKeyTTL "1 day" is not valid: use a duration such as 30s, 10m, 2h, 3d, 4w or 1h30m',
    ]);
    expect(problems({ timeout: 'later' })[0]).toContain('timeout "later" is not valid');
  });

  it('refuses an idempotency key TTL past 100 years (its expiry date would not exist)', () => {
    expect(problems({ idempotencyKeyTTL: '100000000d' })).toEqual(['idempotencyKeyTTL "100000000d" is longer than 100 years']);
  });

  it('refuses a timeout in the past', () => {
    expect(problems({ timeout: '2001-01-01T00:00:00Z' })[0]).toContain('in the past');
  });

  it('limits tags to 10 of at most 128 characters', () => {
    expect(problems({ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) })).toEqual(['tags: at most 10 tags are allowed, got 11']);
    expect(problems({ tags: ['x'.repeat(129)] })[0]).toContain('at most 128 characters');
    expect(problems({ tags: [1, 2] })[0]).toContain('string or an array of strings');
  });

  it('limits idempotency keys to 2048 characters and 2048 bytes (the key is indexed)', () => {
    expect(problems({ idempotencyKey: 'k'.repeat(2049) })).toEqual(['idempotencyKey must be at most 2048 characters']);
    expect(problems({ idempotencyKey: '键'.repeat(683) })).toEqual([
      'idempotencyKey must be at most 2048 bytes in UTF-8 (this one has 2049)',
    ]);
    expect(problems({ idempotencyKey: '键'.repeat(682) })).toEqual([]);
    expect(problems({ idempotencyKey: 42 })).toContain('idempotencyKey must be a string');
  });

  it('asks for a token with the defaults: 10 minute timeout, 1 hour key reservation, no tags', () => {
    const command = toDto(CreateTokenBody, {}).toCommand(new Date(), context);
    expect(command).toEqual({
      ...context,
      idempotencyKey: undefined,
      idempotencyKeyTTLMs: 3_600_000,
      timeout: { afterMs: 600_000 },
      tags: [],
    });
  });

  it('asks for what the body says; one tag is a list of one', () => {
    const at = '2100-01-01T00:00:00.000Z';
    const command = toDto(CreateTokenBody, { idempotencyKey: 'k', idempotencyKeyTTL: '2d', timeout: at, tags: 'vip' }).toCommand(
      new Date(),
      context,
    );
    expect(command).toMatchObject({ idempotencyKey: 'k', idempotencyKeyTTLMs: 172_800_000, timeout: { at }, tags: ['vip'] });
  });

  it('answers 400 when a timeout date passed between validation and the command', () => {
    const body = toDto(CreateTokenBody, { timeout: '2030-01-01T00:00:00Z' });
    expect(problems(body)).toEqual([]);
    expect(() => body.toCommand(new Date('2031-01-01T00:00:00Z'), context)).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('accepts an approval and asks for it with only the fields given', () => {
    const approval = { title: 'Ship?', description: 'v2', approveLabel: 'Ship', rejectLabel: 'Hold', commentRequired: true };
    expect(problems({ approval })).toEqual([]);
    expect(toDto(CreateTokenBody, { approval }).toCommand(new Date(), context).approval).toEqual(approval);
    expect(
      toDto(CreateTokenBody, { approval: { title: 'Ship?', commentRequired: false } }).toCommand(new Date(), context).approval,
    ).toEqual({ title: 'Ship?' });
    expect(toDto(CreateTokenBody, {}).toCommand(new Date(), context)).not.toHaveProperty('approval');
  });

  it('refuses an approval that is not plain text of bounded length, naming the field', () => {
    expect(problems({ approval: [] })).toEqual(['approval must be an object such as {"title": "Deploy to production?"}']);
    expect(problems({ approval: { description: 'd' } })).toEqual(['approval.title is required']);
    expect(problems({ approval: { title: 'x'.repeat(200) } })).toEqual([]);
    expect(problems({ approval: { title: 'x'.repeat(201) } })).toEqual([
      'approval.title must be at most 200 characters (this one has 201)',
    ]);
    expect(problems({ approval: { title: 't', description: 'd'.repeat(4001) } })[0]).toContain('approval.description must be at most 4000');
    expect(problems({ approval: { title: 't', rejectLabel: 'r'.repeat(41) } })[0]).toContain('approval.rejectLabel must be at most 40');
    expect(problems({ approval: { title: 't', approveLabel: '' } })).toEqual(['approval.approveLabel must not be blank']);
    expect(problems({ approval: { title: 't', commentRequired: 1 } })).toEqual(['approval.commentRequired must be true or false']);
    expect(problems({ approval: { title: 't', __proto__x: 1 } })[0]).toContain('approval: unknown field "__proto__x"');
    expect(problems({ approval: { title: '\uD800' } })[0]).toContain('approval.title contains an unpaired UTF-16 surrogate');
  });

  it('accepts a heartbeatTimeout (a positive duration) and asks for it in milliseconds', () => {
    expect(problems({ heartbeatTimeout: '5m' })).toEqual([]);
    expect(toDto(CreateTokenBody, { heartbeatTimeout: '1m30s' }).toCommand(new Date(), context).heartbeatTimeoutMs).toBe(90_000);
    expect(toDto(CreateTokenBody, {}).toCommand(new Date(), context)).not.toHaveProperty('heartbeatTimeoutMs');
    for (const heartbeatTimeout of ['soon', '0s', 5]) expect(problems({ heartbeatTimeout })[0]).toContain('heartbeatTimeout');
  });
});
