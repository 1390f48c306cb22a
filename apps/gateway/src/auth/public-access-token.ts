import { createSecretKey, KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { toFriendlyTokenId, toInternalTokenId } from '@waitpoints/contracts';

export const PUBLIC_TOKEN_TTL_SECONDS = 24 * 60 * 60;
const ISSUER = 'waitpoints';

export type PublicTokenCheck = { ok: true; environment: string } | { ok: false; status: 401 | 403; message: string };

/**
 * Public access tokens: HS256 JWTs with `sub` = environment, `pub: true` and scopes such as
 * `write:waitpoints:<id>`, the shape the Trigger.dev SDK hands to browsers. Only HS256 is
 * accepted (so `alg: none` and algorithm swaps fail). We sign with the signing secret; a token
 * the SDK signed itself with the environment's secret key is accepted too.
 */
export class PublicAccessTokens {
  /**
   * Made once: given a string, jsonwebtoken first tries (and fails) to read it as a private
   * key on every call, which cost more CPU than anything else in a create.
   */
  private readonly signingKey: KeyObject;

  constructor(
    private readonly signingSecrets: string[],
    private readonly keysOfEnvironment: (environment: string) => string[],
  ) {
    this.signingKey = secretKey(signingSecrets[0]);
  }

  issueForToken(environment: string, internalTokenId: string): string {
    return jwt.sign({ pub: true, scopes: [`write:waitpoints:${toFriendlyTokenId(internalTokenId)}`] }, this.signingKey, {
      algorithm: 'HS256',
      subject: environment,
      issuer: ISSUER,
      expiresIn: PUBLIC_TOKEN_TTL_SECONDS,
    });
  }

  /** May this JWT complete the token named in the URL? */
  checkWriteAccess(token: string, urlTokenId: string): PublicTokenCheck {
    return this.checkAccess(token, urlTokenId, 'write');
  }

  /** May this JWT watch the token named in the URL? Write access includes reading. */
  checkReadAccess(token: string, urlTokenId: string): PublicTokenCheck {
    return this.checkAccess(token, urlTokenId, 'read');
  }

  private checkAccess(token: string, urlTokenId: string, action: 'read' | 'write'): PublicTokenCheck {
    const unverified = jwt.decode(token, { json: true });
    const environment = typeof unverified?.sub === 'string' ? unverified.sub : undefined;
    if (!environment) return { ok: false, status: 401, message: 'Invalid public access token' };

    const candidates = [...this.signingSecrets, ...this.keysOfEnvironment(environment)];
    let claims: jwt.JwtPayload | undefined;
    let expired = false;
    for (const secret of candidates) {
      try {
        claims = jwt.verify(token, secretKey(secret), { algorithms: ['HS256'] }) as jwt.JwtPayload;
        break;
      } catch (error) {
        if (error instanceof jwt.TokenExpiredError) expired = true;
      }
    }
    if (!claims) {
      return { ok: false, status: 401, message: expired ? 'Public access token has expired' : 'Invalid public access token' };
    }
    if (claims.pub !== true || !Array.isArray(claims.scopes)) {
      return { ok: false, status: 401, message: 'Invalid public access token: not a public token' };
    }
    if (!grants(claims.scopes, urlTokenId, action)) {
      const what = action === 'write' ? 'completing' : 'reading';
      return {
        ok: false,
        status: 403,
        message: `This public access token does not allow ${what} waitpoint ${toFriendlyTokenId(toInternalTokenId(urlTokenId))}`,
      };
    }
    return { ok: true, environment };
  }
}

const secretKeys = new Map<string, KeyObject>();

/** Secrets as KeyObjects, made once each (see `signingKey`); there are only a few. */
function secretKey(secret: string): KeyObject {
  let key = secretKeys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret));
    secretKeys.set(secret, key);
  }
  return key;
}

/**
 * Scope grammar `action:type[:id]`; ids compare without the `waitpoint_` prefix. A write
 * scope also grants reading: whoever may complete a token may watch it.
 */
function grants(scopes: unknown[], urlTokenId: string, wanted: 'read' | 'write'): boolean {
  const wantedId = toInternalTokenId(urlTokenId);
  const actions = wanted === 'write' ? ['write', '*'] : ['read', 'write', '*'];
  return scopes.some((scope) => {
    if (typeof scope !== 'string') return false;
    if (scope === 'admin') return true;
    const [action, type, id] = scope.split(':');
    if (!actions.includes(action)) return false;
    if (type === 'all' && id === undefined) return true;
    return type === 'waitpoints' && (id === undefined || toInternalTokenId(id) === wantedId);
  });
}
