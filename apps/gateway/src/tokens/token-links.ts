import { toFriendlyTokenId } from '@waitpoints/contracts';
import { CallbackSignature } from '../auth/callback-signature';

/** Builds what clients see of a token's identity: its public id and callback URL. */
export class TokenLinks {
  constructor(
    private readonly publicUrl: string,
    private readonly signature: CallbackSignature,
  ) {}

  friendlyId(internalId: string): string {
    return toFriendlyTokenId(internalId);
  }

  callbackUrl(internalId: string): string {
    return `${this.publicUrl}/api/v1/waitpoints/tokens/${toFriendlyTokenId(internalId)}/callback/${this.signature.sign(internalId)}`;
  }
}
