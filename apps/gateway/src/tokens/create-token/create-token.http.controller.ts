import { Body, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { AuthenticatedRequest, SecretKeyGuard } from '../../auth/auth.guards';
import { PublicAccessTokens } from '../../auth/public-access-token';
import { RequestBodyPipe } from '../../http/request-validation';
import { TokenRouteDocs } from '../../openapi/route-docs';
import { TokenEventFeed } from '../../realtime/token-event-feed';
import { TokenServiceClient } from '../../transport/token-service.client';
import { TokenLinks } from '../token-links';
import { TokenApiController, TokenPost, requestMetadata } from '../token-request';
import { CreateTokenBody } from './create-token.request.dto';

/** The SDK's retry key for one create request; longer values are not ours to keep. */
const REQUEST_KEY_HEADER = 'x-trigger-request-idempotency-key';
const MAX_REQUEST_KEY_LENGTH = 256;

const createTokenBody = new RequestBodyPipe(CreateTokenBody);

/** `POST /api/v1/waitpoints/tokens`: creates a token and hands out its public access token. */
@TokenApiController()
export class CreateTokenHttpController {
  constructor(
    private readonly tokenService: TokenServiceClient,
    private readonly links: TokenLinks,
    private readonly publicTokens: PublicAccessTokens,
    private readonly feed: TokenEventFeed,
  ) {}

  @TokenPost('', TokenRouteDocs.create(), SecretKeyGuard)
  async create(
    @Req() request: AuthenticatedRequest,
    @Body(createTokenBody) body: CreateTokenBody,
    @Res({ passthrough: true }) response: Response,
  ) {
    const { environment } = request.auth;
    const requestKey = request.headers[REQUEST_KEY_HEADER];
    const command = body.toCommand(new Date(), {
      environment,
      requestIdempotencyKey:
        typeof requestKey === 'string' && requestKey.length > 0 && requestKey.length <= MAX_REQUEST_KEY_LENGTH ? requestKey : undefined,
      metadata: requestMetadata(request),
    });
    const { token, isCached } = await this.tokenService.createToken(command);
    // The event stream a waiter opens next starts from this view (an idempotent replay's token may have changed since).
    if (!isCached) this.feed.rememberCreated(environment, token);
    response.setHeader('x-trigger-jwt', this.publicTokens.issueForToken(environment, token.id));
    response.setHeader('x-trigger-jwt-claims', JSON.stringify({ sub: environment, pub: true }));
    return {
      id: this.links.friendlyId(token.id),
      isCached,
      url: this.links.callbackUrl(token.id),
      ...(token.approval !== undefined && { approvalUrl: this.links.approvalUrl(token.id) }),
    };
  }
}
