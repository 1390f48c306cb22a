import { Body, Param, Req } from '@nestjs/common';
import { AuthenticatedRequest, SecretKeyGuard } from '../../auth/auth.guards';
import { RequestBodyPipe } from '../../http/request-validation';
import { TokenRouteDocs } from '../../openapi/route-docs';
import { TokenServiceClient } from '../../transport/token-service.client';
import { TokenIdPipe } from '../token-id.pipe';
import { TokenApiController, TokenPost, requestMetadata } from '../token-request';
import { ExtendTokenRequest } from './extend-token.request.dto';

const extendTokenBody = new RequestBodyPipe(ExtendTokenRequest);

/**
 * `POST /api/v1/waitpoints/tokens/:id/extend` (our extension), secret key only: moves a waiting
 * token's timeout (a TokenDeadlineExtended event). A finished token answers 409 with its status.
 */
@TokenApiController()
export class ExtendTokenHttpController {
  constructor(private readonly tokenService: TokenServiceClient) {}

  @TokenPost(':id/extend', TokenRouteDocs.extend(), SecretKeyGuard)
  async extend(
    @Req() request: AuthenticatedRequest,
    @Param('id', TokenIdPipe) tokenId: string,
    @Body(extendTokenBody) body: ExtendTokenRequest,
  ) {
    const result = await this.tokenService.extendToken(
      body.toCommand(new Date(), { environment: request.auth.environment, tokenId, metadata: requestMetadata(request) }),
    );
    const answer: { success: true; timeoutAt?: string; deadline?: string } = { success: true };
    if (result.timeoutAt !== undefined) answer.timeoutAt = result.timeoutAt;
    if (result.deadline !== undefined) answer.deadline = result.deadline;
    return answer;
  }
}
