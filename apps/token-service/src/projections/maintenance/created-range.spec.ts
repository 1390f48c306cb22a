import { describeRange, parseProjectionsArguments } from './created-range';

const now = new Date('2026-11-30T12:00:00.000Z');
const parse = (...args: string[]) => parseProjectionsArguments(args, now);

describe('projections command arguments', () => {
  it('takes a command alone: every token', () => {
    expect(parse('verify')).toEqual({ ok: true, value: { command: 'verify', range: {} } });
    expect(parse('rebuild')).toEqual({ ok: true, value: { command: 'rebuild', range: {} } });
  });

  it('reads --since as an ISO time or a duration before now, and --until as an ISO time, in either spelling', () => {
    expect(parse('verify', '--since', '7d')).toEqual({
      ok: true,
      value: { command: 'verify', range: { since: new Date('2026-11-23T12:00:00.000Z') } },
    });
    expect(parse('rebuild', '--since=2026-11-01', '--until=2026-11-02T06:30:00Z')).toEqual({
      ok: true,
      value: { command: 'rebuild', range: { since: new Date('2026-11-01T00:00:00.000Z'), until: new Date('2026-11-02T06:30:00.000Z') } },
    });
    expect(parse('verify', '--until', '2026-11-02T06:30:00+02:00', '--page-size', '3')).toEqual({
      ok: true,
      value: { command: 'verify', range: { until: new Date('2026-11-02T04:30:00.000Z') }, pageSize: 3 },
    });
  });

  it('reads a time without a zone as UTC', () => {
    expect(parse('verify', '--since', '2026-11-01T10:00')).toEqual({
      ok: true,
      value: { command: 'verify', range: { since: new Date('2026-11-01T10:00:00.000Z') } },
    });
  });

  it.each([
    [['check'], 'unknown command "check": rebuild or verify'],
    [[], 'no command: rebuild or verify'],
    [['verify', '--from', '1d'], 'unknown option "--from"'],
    [['verify', '--since'], '--since needs a value'],
    [['verify', '--since', '--until', '2026-11-01'], '--since needs a value'],
    [['verify', '--since', 'yesterday'], '--since "yesterday" is not an ISO 8601 time'],
    [['verify', '--since', '2026-13-01'], '--since "2026-13-01" is not an ISO 8601 time'],
    [['verify', '--until', '7d'], '--until "7d" is not an ISO 8601 time (2026-11-01, 2026-11-01T12:00:00Z)'],
    [
      ['verify', '--since', '2026-11-02', '--until', '2026-11-01'],
      '--since (2026-11-02T00:00:00.000Z) must be before --until (2026-11-01T00:00:00.000Z)',
    ],
    [['verify', '--page-size', '0'], '--page-size "0" is not a positive whole number'],
    [['verify', '--page-size', '1.5'], '--page-size "1.5" is not a positive whole number'],
  ])('refuses %p: %s', (args, error) => {
    const parsed = parse(...args);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(error);
  });

  it('describes a range for the summary', () => {
    expect(describeRange({})).toBe('all tokens');
    expect(describeRange({ since: new Date('2026-11-01T00:00:00Z') })).toBe('tokens created from 2026-11-01T00:00:00.000Z until now');
  });
});
