import { MAX_TIMEOUT_MS, parseDuration, parseTimeout, resolveTimeout } from './duration';

const now = new Date('2026-01-01T10:00:00.000Z');

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['2hr', 7_200_000],
    ['3d', 259_200_000],
    ['4w', 2_419_200_000],
    ['1h30m', 5_400_000],
    ['1w2d3h4m5s', 788_645_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 'm', '1.5h', '-1h', '1y', '10 minutes', '1h 30m', 'PT10M', '1H'])('rejects %p', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('timeouts', () => {
  it('accepts a duration, resolved later against the service clock', () => {
    const parsed = parseTimeout('10m', now);
    expect(parsed).toEqual({ ok: true, value: { afterMs: 600_000 } });
    if (parsed.ok) expect(resolveTimeout(parsed.value, now).toISOString()).toBe('2026-01-01T10:10:00.000Z');
  });

  it('accepts a future ISO date', () => {
    expect(parseTimeout('2026-01-02T00:00:00Z', now)).toEqual({ ok: true, value: { at: '2026-01-02T00:00:00.000Z' } });
  });

  it('refuses a date in the past with a message saying so', () => {
    const parsed = parseTimeout('2025-12-31T00:00:00Z', now);
    expect(parsed).toEqual({ ok: false, message: expect.stringContaining('is in the past') });
  });

  it('refuses nonsense and names the accepted forms', () => {
    const parsed = parseTimeout('soon', now);
    expect(parsed).toEqual({ ok: false, message: expect.stringContaining('30s, 10m') });
  });

  it('refuses zero, non-strings and absurd lengths', () => {
    expect(parseTimeout('0s', now).ok).toBe(false);
    expect(parseTimeout(42, now).ok).toBe(false);
    expect(parseTimeout(`${Math.ceil(MAX_TIMEOUT_MS / 1000) + 1}s`, now).ok).toBe(false);
  });
});
