import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Actor, toInternalTokenId } from '@waitpoints/contracts';
import { ApiError } from '../http/api-error';
import { RateLimits } from '../http/rate-limits';
import { ApiKeyRegistry } from './api-keys';
import { PublicAccessTokens } from './public-access-token';

export interface AuthContext {
  environment: string;
  actor: Actor;
}

export type AuthenticatedRequest = Request & { auth: AuthContext };

function bearer(request: Request): string {
  const header = request.headers.authorization;
  if (!header) throw ApiError.unauthorized('Missing Authorization header: send "Authorization: Bearer <secret key>"');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw ApiError.unauthorized('Malformed Authorization header: expected "Bearer <secret key>"');
  return match[1];
}

const looksLikeJwt = (value: string) => value.split('.').length === 3;

/** Routes for servers: the environment's secret key only. Counted against the key's rate limit. */
@Injectable()
export class SecretKeyGuard implements CanActivate {
  constructor(
    private readonly keys: ApiKeyRegistry,
    private readonly limits: RateLimits,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const presented = bearer(request);
    const environment = this.keys.environmentOf(presented);
    if (!environment) {
      throw ApiError.unauthorized(
        looksLikeJwt(presented)
          ? 'Public access tokens can only complete, reject or heartbeat tokens; this route needs a secret API key'
          : 'Invalid API key',
      );
    }
    await this.limits.admitApiKey(presented, context.switchToHttp().getResponse<Response>());
    request.auth = { environment, actor: { type: 'api_key', id: environment } };
    return true;
  }
}

/**
 * Complete, reject and heartbeat: a secret key (counted per key), or a public access token scoped to this very token
 * (counted per waitpoint token, like callbacks).
 */
@Injectable()
export class SecretKeyOrPublicTokenGuard implements CanActivate {
  constructor(
    private readonly keys: ApiKeyRegistry,
    private readonly publicTokens: PublicAccessTokens,
    private readonly limits: RateLimits,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const response = context.switchToHttp().getResponse<Response>();
    const presented = bearer(request);
    const environment = this.keys.environmentOf(presented);
    if (environment) {
      await this.limits.admitApiKey(presented, response);
      request.auth = { environment, actor: { type: 'api_key', id: environment } };
      return true;
    }
    if (!looksLikeJwt(presented)) throw ApiError.unauthorized('Invalid API key');
    const check = this.publicTokens.checkWriteAccess(presented, String(request.params.id));
    if (!check.ok) throw new ApiError(check.status, check.message);
    await this.limits.admitTokenCompletion(toInternalTokenId(String(request.params.id)), response);
    request.auth = { environment: check.environment, actor: { type: 'public_token', id: check.environment } };
    return true;
  }
}
