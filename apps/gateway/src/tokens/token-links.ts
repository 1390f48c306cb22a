import { LRUCache } from 'lru-cache';
import { toFriendlyTokenId } from '@waitpoints/contracts';
import { ApprovalSignature } from '../auth/approval-signature';
import { CallbackSignature } from '../auth/callback-signature';

/** Callback URLs remembered: a token's is signed at its create and asked for again by its event stream right after. */
const REMEMBERED_CALLBACK_URLS = 10_000;

/** Builds what clients see of a token's identity: its public id and callback URL. */
export class TokenLinks {
  private readonly callbackUrls = new LRUCache<string, string>({ max: REMEMBERED_CALLBACK_URLS });

  constructor(
    private readonly publicUrl: string,
    private readonly signature: CallbackSignature,
    private readonly approvalSignature?: ApprovalSignature,
  ) {}

  friendlyId(internalId: string): string {
    return toFriendlyTokenId(internalId);
  }

  callbackUrl(internalId: string): string {
    let url = this.callbackUrls.get(internalId);
    if (url === undefined) {
      url = `${this.publicUrl}/api/v1/waitpoints/tokens/${toFriendlyTokenId(internalId)}/callback/${this.signature.sign(internalId)}`;
      this.callbackUrls.set(internalId, url);
    }
    return url;
  }

  /** The token's approval page: a capability like the callback URL, signed for another purpose. */
  approvalUrl(internalTokenId: string): string {
    if (!this.approvalSignature) throw new Error('TokenLinks: no approval signature configured');
    return `${this.publicUrl}${approvalPath(internalTokenId, this.approvalSignature.sign(internalTokenId))}`;
  }
}

export function approvalPath(internalTokenId: string, hash: string): string {
  return `/api/v1/waitpoints/tokens/${toFriendlyTokenId(internalTokenId)}/approval/${hash}`;
}
