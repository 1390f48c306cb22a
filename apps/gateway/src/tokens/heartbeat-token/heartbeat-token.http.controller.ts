import { Body, Param, Req } from '@nestjs/common';
import { AuthenticatedRequest, SecretKeyOrPublicTokenGuard } from '../../auth/auth.guards';
import { RequestBodyPipe } from '../../http/request-validation';
import { TokenRouteDocs } from '../../openapi/route-docs';
import { TokenServiceClient } from '../../transport/token-service.client';
import { TokenIdPipe } from '../token-id.pipe';
import { TokenApiController, TokenPost, requestMetadata } from '../token-request';
import { HeartbeatTokenRequest } from './heartbeat-token.request.dto';

const heartbeatTokenBody = new RequestBodyPipe(HeartbeatTokenRequest, '; a heartbeat takes no fields: send an empty body or {}');

/**
 * `POST /api/v1/waitpoints/tokens/:id/heartbeat` (our extension), with the secret key or the
 * token's public access token (CORS as on complete, see app.ts): restarts the heartbeat clock of
 * a token created with heartbeatTimeout and answers the new deadlines. Not an event. A token
 * without a heartbeat clock is a 400, a finished one a 409 with its status.
 */
@TokenApiController()
export class HeartbeatTokenHttpController {
  constructor(private readonly tokenService: TokenServiceClient) {}

  @TokenPost(':id/heartbeat', TokenRouteDocs.heartbeat(), SecretKeyOrPublicTokenGuard)
  async heartbeat(
    @Req() request: AuthenticatedRequest,
    @Param('id', TokenIdPipe) tokenId: string,
    @Body(heartbeatTokenBody) body: HeartbeatTokenRequest,
  ) {
    const { heartbeatDeadline, timeoutAt, deadline } = await this.tokenService.heartbeatToken(
      body.toCommand({ environment: request.auth.environment, tokenId, metadata: requestMetadata(request) }),
    );
    return { success: true as const, heartbeatDeadline, timeoutAt, deadline };
  }
}
