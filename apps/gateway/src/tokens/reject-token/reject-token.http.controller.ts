import { Body, Param, Req } from '@nestjs/common';
import { AuthenticatedRequest, SecretKeyOrPublicTokenGuard } from '../../auth/auth.guards';
import { RequestBodyPipe } from '../../http/request-validation';
import { TokenRouteDocs } from '../../openapi/route-docs';
import { TokenServiceClient } from '../../transport/token-service.client';
import { TokenIdPipe } from '../token-id.pipe';
import { TokenApiController, TokenPost, requestMetadata } from '../token-request';
import { RejectTokenRequest } from './reject-token.request.dto';

const rejectTokenBody = new RequestBodyPipe(RejectTokenRequest);

/**
 * `POST /api/v1/waitpoints/tokens/:id/reject` (our extension): ends a waiting token with an
 * error, with the secret key or the token's public access token (CORS as on complete, see
 * app.ts). Like complete, a finished token answers 200 with its status and is left as it is.
 */
@TokenApiController()
export class RejectTokenHttpController {
  constructor(private readonly tokenService: TokenServiceClient) {}

  @TokenPost(':id/reject', TokenRouteDocs.reject(), SecretKeyOrPublicTokenGuard)
  async reject(
    @Req() request: AuthenticatedRequest,
    @Param('id', TokenIdPipe) tokenId: string,
    @Body(rejectTokenBody) body: RejectTokenRequest,
  ) {
    const result = await this.tokenService.rejectToken(
      body.toCommand({
        environment: request.auth.environment,
        tokenId,
        channel: request.auth.actor.type === 'public_token' ? 'public_token' : 'api',
        metadata: requestMetadata(request),
      }),
    );
    return { success: true as const, status: result.status };
  }
}
