import { ApprovalSignature } from './approval-signature';
import { CallbackSignature } from './callback-signature';

const TOKEN = '01jd0000000000000000000000';
const OTHER = '01jd0000000000000000000001';
const [current, previous] = ['current-secret-0123456789', 'previous-secret-0123456789'];

describe('ApprovalSignature', () => {
  const approval = new ApprovalSignature([current, previous]);
  const callback = new CallbackSignature([current, previous]);

  it('verifies its own hash, for that token only', () => {
    const hash = approval.sign(TOKEN);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(approval.verify(TOKEN, hash)).toBe(true);
    expect(approval.verify(TOKEN, hash.toUpperCase())).toBe(true);
    expect(approval.verify(OTHER, hash)).toBe(false);
    expect(approval.verify(TOKEN, 'nope')).toBe(false);
  });

  it('is not interchangeable with the callback hash, either way', () => {
    expect(approval.sign(TOKEN)).not.toBe(callback.sign(TOKEN));
    expect(approval.verify(TOKEN, callback.sign(TOKEN))).toBe(false);
    expect(callback.verify(TOKEN, approval.sign(TOKEN))).toBe(false);
  });

  it('survives a rotation: a hash signed with the previous secret still verifies, one with a dropped secret does not', () => {
    const old = new ApprovalSignature([previous]).sign(TOKEN);
    expect(approval.verify(TOKEN, old)).toBe(true);
    expect(new ApprovalSignature(['brand-new-secret-0123456789']).verify(TOKEN, old)).toBe(false);
  });

  it('issues a fresh form token per rendering, valid for its token only and never equal to a URL hash', () => {
    const [a, b] = [approval.formToken(TOKEN), approval.formToken(TOKEN)];
    expect(a).not.toBe(b);
    expect(approval.verifyFormToken(TOKEN, a)).toBe(true);
    expect(approval.verifyFormToken(TOKEN, b)).toBe(true);
    expect(approval.verifyFormToken(OTHER, a)).toBe(false);
    expect(new ApprovalSignature([previous, current]).verifyFormToken(TOKEN, a)).toBe(true);
    for (const bad of [
      undefined,
      '',
      42,
      ['x'],
      a.replace(/.$/, (c) => (c === '0' ? '1' : '0')),
      `${a.split('.')[0]}.${approval.sign(TOKEN)}`,
    ]) {
      expect(approval.verifyFormToken(TOKEN, bad)).toBe(false);
    }
  });
});
