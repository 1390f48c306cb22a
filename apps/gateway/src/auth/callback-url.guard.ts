import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isInternalTokenId, toInternalTokenId } from '@waitpoints/contracts';
import { ApiError } from '../http/api-error';
import { RateLimits } from '../http/rate-limits';
import { CallbackSignature } from './callback-signature';

/**
 * A token's callback URL (`…/:id/callback/:hash`): no API key, the HMAC in the path is the
 * credential. Once it is verified, the completion counts against the token's rate limit (only
 * then, so strangers cannot use up a token's allowance). A guard, so both come before the body
 * is looked at.
 */
@Injectable()
export class CallbackUrlGuard implements CanActivate {
  constructor(
    private readonly signature: CallbackSignature,
    private readonly limits: RateLimits,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    const tokenId = toInternalTokenId(String(request.params.id));
    if (!isInternalTokenId(tokenId) || !this.signature.verify(tokenId, String(request.params.hash))) {
      throw ApiError.unauthorized("Invalid callback URL: the hash doesn't match this token");
    }
    await this.limits.admitTokenCompletion(tokenId, context.switchToHttp().getResponse<Response>());
    return true;
  }
}
