import { decideIdempotency } from './idempotency';

const now = new Date('2026-01-01T10:00:00Z');

describe('idempotency decision', () => {
  it('creates when the key was never used', () => {
    expect(decideIdempotency(undefined, now)).toEqual({ kind: 'create' });
  });

  it('reuses the original token while the key is live', () => {
    const reservation = { tokenId: 'abc', expiresAt: new Date(now.getTime() + 1) };
    expect(decideIdempotency(reservation, now)).toEqual({ kind: 'reuse', tokenId: 'abc' });
  });

  it('creates a new token once the key has expired', () => {
    expect(decideIdempotency({ tokenId: 'abc', expiresAt: now }, now)).toEqual({ kind: 'create' });
  });
});
