import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ApiKeyRegistry } from '../auth/api-keys';
import { AuthenticatedRequest } from '../auth/auth.guards';
import { PublicAccessTokens } from '../auth/public-access-token';
import { ApiError } from '../http/api-error';

/** Query parameter for clients that cannot set headers (a browser's EventSource). */
export const ACCESS_TOKEN_PARAM = 'access_token';

/**
 * Watching one token: the environment's secret key, or a public access token that may read
 * (or complete) this token. Browsers cannot put headers on an EventSource, so the public
 * token may come as `?access_token=`; a secret key may not, since URLs end up in logs.
 */
@Injectable()
export class TokenReaderGuard implements CanActivate {
  constructor(
    private readonly keys: ApiKeyRegistry,
    private readonly publicTokens: PublicAccessTokens,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization;
    const fromQuery = request.query[ACCESS_TOKEN_PARAM];
    let presented: string;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw ApiError.unauthorized('Malformed Authorization header: expected "Bearer <secret key or public access token>"');
      presented = match[1];
      const environment = this.keys.environmentOf(presented);
      if (environment) {
        request.auth = { environment, actor: { type: 'api_key', id: environment } };
        return true;
      }
    } else if (typeof fromQuery === 'string' && fromQuery.length > 0) {
      presented = fromQuery;
      if (this.keys.environmentOf(presented)) {
        throw ApiError.unauthorized(
          `Secret keys must not be sent in the URL; send "Authorization: Bearer <secret key>", or put the token's public access token in ?${ACCESS_TOKEN_PARAM}=`,
        );
      }
    } else {
      throw ApiError.unauthorized(
        `Missing credentials: send "Authorization: Bearer <secret key or public access token>", or ?${ACCESS_TOKEN_PARAM}=<public access token>`,
      );
    }
    if (presented.split('.').length !== 3) throw ApiError.unauthorized('Invalid API key');
    const check = this.publicTokens.checkReadAccess(presented, String(request.params.id));
    if (!check.ok) throw new ApiError(check.status, check.message);
    request.auth = { environment: check.environment, actor: { type: 'public_token', id: check.environment } };
    return true;
  }
}
