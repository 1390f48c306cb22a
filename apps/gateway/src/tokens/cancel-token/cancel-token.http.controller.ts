import { Body, Param, Req } from '@nestjs/common';
import { AuthenticatedRequest, SecretKeyGuard } from '../../auth/auth.guards';
import { RequestBodyPipe } from '../../http/request-validation';
import { TokenRouteDocs } from '../../openapi/route-docs';
import { TokenServiceClient } from '../../transport/token-service.client';
import { TokenIdPipe } from '../token-id.pipe';
import { TokenApiController, TokenPost, requestMetadata } from '../token-request';
import { CancelTokenRequest } from './cancel-token.request.dto';

const cancelTokenBody = new RequestBodyPipe(CancelTokenRequest);

/** `POST /api/v1/waitpoints/tokens/:id/cancel` (our extension): ends a waiting token as CANCELLED; its waiters get an error. */
@TokenApiController()
export class CancelTokenHttpController {
  constructor(private readonly tokenService: TokenServiceClient) {}

  @TokenPost(':id/cancel', TokenRouteDocs.cancel(), SecretKeyGuard)
  async cancel(
    @Req() request: AuthenticatedRequest,
    @Param('id', TokenIdPipe) tokenId: string,
    @Body(cancelTokenBody) body: CancelTokenRequest,
  ) {
    const result = await this.tokenService.cancelToken(
      body.toCommand({ environment: request.auth.environment, tokenId, metadata: requestMetadata(request) }),
    );
    return { success: true as const, status: result.status };
  }
}
