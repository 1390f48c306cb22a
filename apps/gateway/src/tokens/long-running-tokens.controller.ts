import { Body, Controller, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import { HeartbeatTokenResult, MessageMetadata } from '@waitpoints/contracts';
import { AuthenticatedRequest, SecretKeyGuard, SecretKeyOrPublicTokenGuard } from '../auth/auth.guards';
import { correlationIdOf } from '../http/correlation-id';
import { LongRunningRouteDocs } from '../openapi/long-running-docs';
import { TokenServiceClient } from '../transport/token-service.client';
import { parseExtendBody, parseHeartbeatBody, parseRejectBody } from './long-running.dto';
import { tokenIdParam } from './tokens.controller';

/**
 * Waitpoints extensions for long jobs: end a token with an error (reject), move its timeout
 * (extend), and keep a heartbeat token alive (heartbeat). Thin adapter like TokensController;
 * body limits and CORS are set up in `app.ts`.
 */
@Controller('api/v1/waitpoints/tokens')
@LongRunningRouteDocs.controller()
export class LongRunningTokensController {
  constructor(private readonly tokenService: TokenServiceClient) {}

  /** Like complete, with an error: a finished token answers 200 and is left as it is. */
  @Post(':id/reject')
  @HttpCode(200)
  @UseGuards(SecretKeyOrPublicTokenGuard)
  @LongRunningRouteDocs.reject()
  async reject(@Req() request: AuthenticatedRequest, @Param('id') id: string, @Body() body: unknown) {
    const error = parseRejectBody(body);
    const result = await this.tokenService.rejectToken({
      environment: request.auth.environment,
      tokenId: tokenIdParam(id),
      error,
      channel: request.auth.actor.type === 'public_token' ? 'public_token' : 'api',
      metadata: metadataOf(request),
    });
    return { success: true as const, status: result.status };
  }

  /** Moves a waiting token's timeout; a finished token answers 409 with its status. */
  @Post(':id/extend')
  @HttpCode(200)
  @UseGuards(SecretKeyGuard)
  @LongRunningRouteDocs.extend()
  async extend(@Req() request: AuthenticatedRequest, @Param('id') id: string, @Body() body: unknown) {
    const timeout = parseExtendBody(body, new Date());
    const result = await this.tokenService.extendToken({
      environment: request.auth.environment,
      tokenId: tokenIdParam(id),
      timeout,
      metadata: metadataOf(request),
    });
    const answer: { success: true; timeoutAt?: string; deadline?: string } = { success: true };
    if (result.timeoutAt !== undefined) answer.timeoutAt = result.timeoutAt;
    if (result.deadline !== undefined) answer.deadline = result.deadline;
    return answer;
  }

  /** Restarts a waiting heartbeat token's heartbeat clock; answers the new deadlines. */
  @Post(':id/heartbeat')
  @HttpCode(200)
  @UseGuards(SecretKeyOrPublicTokenGuard)
  @LongRunningRouteDocs.heartbeat()
  async heartbeat(@Req() request: AuthenticatedRequest, @Param('id') id: string, @Body() body: unknown) {
    parseHeartbeatBody(body);
    const { heartbeatDeadline, timeoutAt, deadline }: HeartbeatTokenResult = await this.tokenService.heartbeatToken({
      environment: request.auth.environment,
      tokenId: tokenIdParam(id),
      metadata: metadataOf(request),
    });
    return { success: true as const, heartbeatDeadline, timeoutAt, deadline };
  }
}

function metadataOf(request: AuthenticatedRequest): MessageMetadata {
  return { correlationId: correlationIdOf(request), actor: request.auth.actor };
}
