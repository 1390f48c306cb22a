import crypto from 'node:crypto';
import { ApiKeyRegistry } from './api-keys';
import { CallbackSignature } from './callback-signature';
import { safeEqual } from './secrets';

/**
 * Secrets are compared in constant time: a wrong guess must not answer faster the fewer
 * characters it gets right. Timing itself is too noisy to assert on a shared machine, so
 * these check the mechanism: every comparison goes through crypto.timingSafeEqual on
 * equal-length digests, and no lookup stops early at a match or a mismatch.
 */
describe('timing-safe comparisons', () => {
  let timingSafeEqual: jest.SpyInstance;
  beforeEach(() => {
    timingSafeEqual = jest.spyOn(crypto, 'timingSafeEqual');
  });
  afterEach(() => timingSafeEqual.mockRestore());

  it('safeEqual compares fixed-length digests, whatever the lengths of the inputs', () => {
    expect(safeEqual('short', 'a much longer presented value')).toBe(false);
    expect(safeEqual('same', 'same')).toBe(true);
    expect(timingSafeEqual).toHaveBeenCalledTimes(2);
    for (const [left, right] of timingSafeEqual.mock.calls) {
      expect([left.length, right.length]).toEqual([32, 32]);
    }
  });

  it('an API key lookup compares against every configured key, found or not', () => {
    const keys = new ApiKeyRegistry(
      new Map([
        ['key-of-dev-0123456789', 'dev'],
        ['key-of-prod-0123456789', 'prod'],
        ['key-of-staging-012345', 'staging'],
      ]),
    );
    for (const presented of ['key-of-dev-0123456789', 'key-of-dev-0123456788', 'x', 'key-of-staging-012345']) {
      timingSafeEqual.mockClear();
      keys.environmentOf(presented);
      expect(timingSafeEqual).toHaveBeenCalledTimes(3);
    }
  });

  it('a callback hash is checked against every signing secret, valid or not', () => {
    const secrets = ['current-signing-secret-0123456789abcdef', 'previous-signing-secret-0123456789abcdef'];
    const signature = new CallbackSignature(secrets);
    const tokenId = '01jd0000000000000000000000';
    const valid = signature.sign(tokenId);
    for (const presented of [valid, `${valid.slice(0, 63)}0`, 'f'.repeat(64)]) {
      timingSafeEqual.mockClear();
      signature.verify(tokenId, presented);
      expect(timingSafeEqual).toHaveBeenCalledTimes(secrets.length);
    }
  });
});
