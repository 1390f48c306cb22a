import { Injectable } from '@nestjs/common';
import { TokenLinks } from '../tokens/token-links';
import { TokenServiceClient } from '../transport/token-service.client';
import type { DashboardSession } from './session';
import type { TokenDetailModel } from './views/token-detail';

/** What the token page shows, read for the session's environment: the token and its events. */
@Injectable()
export class TokenDetails {
  constructor(
    private readonly tokenService: TokenServiceClient,
    private readonly links: TokenLinks,
  ) {}

  async read(session: DashboardSession, tokenId: string): Promise<TokenDetailModel> {
    const query = { environment: session.environment, tokenId };
    const [token, history] = await Promise.all([this.tokenService.getToken(query), this.tokenService.tokenHistory(query)]);
    return {
      token,
      events: history.events,
      callbackUrl: this.links.callbackUrl(tokenId),
      now: new Date(),
      ...(token.approval !== undefined && { approvalUrl: this.links.approvalUrl(tokenId) }),
    };
  }
}
