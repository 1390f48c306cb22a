import { Get, Param, Req, UseGuards } from '@nestjs/common';
import { AuthenticatedRequest, SecretKeyGuard } from '../../auth/auth.guards';
import { TokenRouteDocs } from '../../openapi/route-docs';
import { TokenServiceClient } from '../../transport/token-service.client';
import { TokenIdPipe } from '../token-id.pipe';
import { TokenLinks } from '../token-links';
import { toRetrievedToken } from '../token.presenter';
import { TokenApiController, isTriggerSdk } from '../token-request';

/** `GET /api/v1/waitpoints/tokens/:id`: one token with its output. */
@TokenApiController()
export class RetrieveTokenHttpController {
  constructor(
    private readonly tokenService: TokenServiceClient,
    private readonly links: TokenLinks,
  ) {}

  @Get(':id')
  @UseGuards(SecretKeyGuard)
  @TokenRouteDocs.retrieve()
  async retrieve(@Req() request: AuthenticatedRequest, @Param('id', TokenIdPipe) tokenId: string) {
    const token = await this.tokenService.getToken({ environment: request.auth.environment, tokenId });
    return toRetrievedToken(token, { url: this.links.callbackUrl(token.id), triggerSdk: isTriggerSdk(request) });
  }
}
