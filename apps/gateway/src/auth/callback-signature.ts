import { hmacHex, safeEqual } from './secrets';

/**
 * The hash in a token's callback URL: hex HMAC-SHA256 of the internal token id.
 * Signed with the first signing secret; verified against all of them, so rotating
 * SIGNING_SECRETS (new first, old kept behind it) leaves outstanding URLs working.
 * Independent of API keys on purpose: rotating a key must not break callback URLs.
 */
export class CallbackSignature {
  constructor(private readonly secrets: string[]) {}

  sign(internalTokenId: string): string {
    return hmacHex(this.secrets[0], internalTokenId);
  }

  verify(internalTokenId: string, presented: string): boolean {
    if (!/^[0-9a-f]{64}$/i.test(presented)) return false;
    let valid = false;
    for (const secret of this.secrets) {
      if (safeEqual(hmacHex(secret, internalTokenId), presented.toLowerCase())) valid = true;
    }
    return valid;
  }
}
