import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ApiKeyRegistry } from '../auth/api-keys';

export const SESSION_COOKIE = 'waitpoints_dashboard';
export const SESSION_TTL_MS = 12 * 3_600_000;

/** A signed-in dashboard user: the environment their API key opened. */
export interface DashboardSession {
  environment: string;
  expiresAt: Date;
  /** Sent back with every form; proves the form came from a page this session loaded. */
  csrfToken: string;
}

interface SessionClaims {
  /** environment */
  e: string;
  /** fingerprint of the API key that signed in (the session dies with the key) */
  k: string;
  /** expiry, epoch seconds */
  x: number;
  /** nonce, so two sessions of the same key differ (and so do their CSRF tokens) */
  n: string;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * Stateless dashboard sessions: the cookie is `<claims>.<HMAC-SHA256>`, signed with a key
 * derived from the gateway's signing secrets (the first signs, all verify, so rotation works
 * as it does for callback URLs). Nothing is stored server-side; removing an API key from
 * API_KEYS ends the sessions it opened, because each session carries the key's fingerprint.
 */
export class DashboardSessions {
  private readonly keys: Buffer[];

  constructor(
    signingSecrets: string[],
    private readonly apiKeys: ApiKeyRegistry,
    private readonly now: () => number = Date.now,
  ) {
    if (signingSecrets.length === 0) throw new Error('dashboard sessions need at least one signing secret');
    // Domain separation: a session signature can never double as a callback-URL signature.
    this.keys = signingSecrets.map((secret) => createHmac('sha256', secret).update('waitpoints:dashboard-session:v1').digest());
  }

  /** The cookie value for a user who presented `apiKey`, or undefined when the key is unknown. */
  signIn(apiKey: string): { cookie: string; session: DashboardSession } | undefined {
    const environment = this.apiKeys.environmentOf(apiKey);
    if (!environment) return undefined;
    const key = this.keys[0];
    const claims: SessionClaims = {
      e: environment,
      k: fingerprint(key, apiKey),
      x: Math.floor((this.now() + SESSION_TTL_MS) / 1000),
      n: randomBytes(12).toString('base64url'),
    };
    const body = b64url(JSON.stringify(claims));
    const cookie = `${body}.${sign(key, body)}`;
    return { cookie, session: this.toSession(key, body, claims) };
  }

  /** The session a cookie proves, or undefined (forged, expired, or its API key was removed). */
  verify(cookie: string | undefined): DashboardSession | undefined {
    if (!cookie || cookie.length > 1024) return undefined;
    const dot = cookie.indexOf('.');
    if (dot <= 0) return undefined;
    const body = cookie.slice(0, dot);
    const signature = cookie.slice(dot + 1);
    const key = this.keys.find((k) => sameText(sign(k, body), signature));
    if (!key) return undefined;
    let claims: SessionClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof claims.e !== 'string' || typeof claims.k !== 'string' || typeof claims.x !== 'number') return undefined;
    if (claims.x * 1000 <= this.now()) return undefined;
    const keyStillValid = this.apiKeys.keysOf(claims.e).some((apiKey) => sameText(fingerprint(key, apiKey), claims.k));
    if (!keyStillValid) return undefined;
    return this.toSession(key, body, claims);
  }

  checkCsrf(session: DashboardSession, presented: unknown): boolean {
    return typeof presented === 'string' && sameText(session.csrfToken, presented);
  }

  private toSession(key: Buffer, body: string, claims: SessionClaims): DashboardSession {
    return {
      environment: claims.e,
      expiresAt: new Date(claims.x * 1000),
      csrfToken: sign(key, `csrf:${body}`),
    };
  }
}

function sign(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('base64url');
}

function fingerprint(key: Buffer, apiKey: string): string {
  return createHmac('sha256', key).update(`api-key:${apiKey}`).digest('base64url').slice(0, 22);
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The value of one cookie from a Cookie header (no cookie library needed for one name). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
