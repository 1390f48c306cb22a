import { randomBytes } from 'node:crypto';
import { hmacHex, safeEqual } from './secrets';

/**
 * The signatures of a token's approval page, made with the signing secrets as the callback URL's
 * hash is (signed with the first secret, verified against all of them, so rotating
 * SIGNING_SECRETS leaves outstanding links working), but over messages that carry a purpose
 * label: a callback hash (an HMAC of the bare token id) never verifies as an approval hash, nor
 * the other way round, and neither verifies as a form token. Token ids are ULIDs (no ":"), so
 * no message of one purpose can equal a message of another.
 *
 * - the URL hash: HMAC("approval:" + tokenId), the capability to see and answer the page;
 * - the form token (CSRF): "<nonce>.<HMAC("approval-form:" + tokenId + ":" + nonce)>", a fresh
 *   nonce per rendering, checked on POST; stateless, so it does not depend on cookies or SameSite.
 */
export class ApprovalSignature {
  constructor(private readonly secrets: string[]) {}

  sign(internalTokenId: string): string {
    return hmacHex(this.secrets[0], urlMessage(internalTokenId));
  }

  verify(internalTokenId: string, presented: string): boolean {
    return /^[0-9a-f]{64}$/i.test(presented) && this.matchesAny(urlMessage(internalTokenId), presented.toLowerCase());
  }

  /** A new form token for one rendering of the page. */
  formToken(internalTokenId: string): string {
    const nonce = randomBytes(16).toString('hex');
    return `${nonce}.${hmacHex(this.secrets[0], formMessage(internalTokenId, nonce))}`;
  }

  verifyFormToken(internalTokenId: string, presented: unknown): boolean {
    if (typeof presented !== 'string') return false;
    const match = /^([0-9a-f]{32})\.([0-9a-f]{64})$/.exec(presented);
    return match !== null && this.matchesAny(formMessage(internalTokenId, match[1]), match[2]);
  }

  private matchesAny(message: string, presented: string): boolean {
    let valid = false;
    for (const secret of this.secrets) {
      if (safeEqual(hmacHex(secret, message), presented)) valid = true;
    }
    return valid;
  }
}

const urlMessage = (tokenId: string) => `approval:${tokenId}`;
const formMessage = (tokenId: string, nonce: string) => `approval-form:${tokenId}:${nonce}`;
