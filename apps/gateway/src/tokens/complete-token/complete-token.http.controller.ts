import { Body, Param, Req } from '@nestjs/common';
import { AuthenticatedRequest, SecretKeyOrPublicTokenGuard } from '../../auth/auth.guards';
import { RequestBodyPipe } from '../../http/request-validation';
import { TokenRouteDocs } from '../../openapi/route-docs';
import { TokenServiceClient } from '../../transport/token-service.client';
import { TokenIdPipe } from '../token-id.pipe';
import { TokenApiController, TokenPost, requestMetadata } from '../token-request';
import { CompleteTokenRequest } from './complete-token.request.dto';

const completeTokenBody = new RequestBodyPipe(CompleteTokenRequest, ': send the output as {"data": <any JSON>}');

/**
 * `POST /api/v1/waitpoints/tokens/:id/complete`, with the secret key or the token's public
 * access token (browsers; CORS is set up in app.ts). Completing a finished token changes nothing
 * and still answers success, as on Trigger.dev.
 */
@TokenApiController()
export class CompleteTokenHttpController {
  constructor(private readonly tokenService: TokenServiceClient) {}

  @TokenPost(':id/complete', TokenRouteDocs.complete(), SecretKeyOrPublicTokenGuard)
  async complete(
    @Req() request: AuthenticatedRequest,
    @Param('id', TokenIdPipe) tokenId: string,
    @Body(completeTokenBody) body: CompleteTokenRequest,
  ) {
    await this.tokenService.completeToken(
      body.toCommand({
        environment: request.auth.environment,
        tokenId,
        channel: request.auth.actor.type === 'public_token' ? 'public_token' : 'api',
        metadata: requestMetadata(request),
      }),
    );
    return { success: true as const };
  }
}
