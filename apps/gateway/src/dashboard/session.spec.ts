import { ApiKeyRegistry } from '../auth/api-keys';
import { DashboardSessions, SESSION_TTL_MS, readCookie } from './session';

const DEV_KEY = 'tr_dev_0123456789abcdef';
const PROD_KEY = 'tr_prod_0123456789abcdef';
const SECRET = 'current-signing-secret-0123456789abcdef';
const OLD_SECRET = 'previous-signing-secret-0123456789abcdef';

function sessions(options: { keys?: [string, string][]; secrets?: string[]; now?: () => number } = {}) {
  const keys = new ApiKeyRegistry(
    new Map(
      options.keys ?? [
        [DEV_KEY, 'dev'],
        [PROD_KEY, 'prod'],
      ],
    ),
  );
  return new DashboardSessions(options.secrets ?? [SECRET], keys, options.now);
}

describe('dashboard sessions', () => {
  it('opens the environment of the API key that signed in', () => {
    const { cookie } = sessions().signIn(PROD_KEY)!;
    expect(sessions().verify(cookie)).toMatchObject({ environment: 'prod' });
  });

  it('refuses an unknown API key', () => {
    expect(sessions().signIn('tr_dev_not_a_key_at_all')).toBeUndefined();
  });

  it('never puts the API key itself in the cookie', () => {
    const { cookie } = sessions().signIn(DEV_KEY)!;
    const claims = Buffer.from(cookie.split('.')[0], 'base64url').toString();
    expect(claims).not.toContain(DEV_KEY);
    expect(cookie).not.toContain(DEV_KEY);
  });

  it('rejects a cookie whose claims were edited (e.g. another environment)', () => {
    const { cookie } = sessions().signIn(DEV_KEY)!;
    const [body, signature] = cookie.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, e: 'prod' })).toString('base64url');
    expect(sessions().verify(`${forged}.${signature}`)).toBeUndefined();
    expect(sessions().verify(`${body}.${signature.slice(1)}x`)).toBeUndefined();
    expect(sessions().verify('garbage')).toBeUndefined();
    expect(sessions().verify(undefined)).toBeUndefined();
  });

  it('expires after the session lifetime', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const clocked = sessions({ now: () => now });
    const { cookie } = clocked.signIn(DEV_KEY)!;
    now += SESSION_TTL_MS - 1000;
    expect(clocked.verify(cookie)).toBeDefined();
    now += 2000;
    expect(clocked.verify(cookie)).toBeUndefined();
  });

  it('ends when the API key that opened it is removed from the configuration', () => {
    const { cookie } = sessions().signIn(DEV_KEY)!;
    const rotated = sessions({ keys: [['tr_dev_new_key_0123456789', 'dev']] });
    expect(rotated.verify(cookie)).toBeUndefined();
  });

  it('survives a signing-secret rotation while the old secret is still listed', () => {
    const { cookie } = sessions({ secrets: [OLD_SECRET] }).signIn(DEV_KEY)!;
    expect(sessions({ secrets: [SECRET, OLD_SECRET] }).verify(cookie)).toMatchObject({ environment: 'dev' });
    expect(sessions({ secrets: [SECRET] }).verify(cookie)).toBeUndefined();
  });

  it('gives each session its own CSRF token, which only that session accepts', () => {
    const s = sessions();
    const first = s.verify(s.signIn(DEV_KEY)!.cookie)!;
    const second = s.verify(s.signIn(DEV_KEY)!.cookie)!;
    expect(first.csrfToken).not.toEqual(second.csrfToken);
    expect(s.checkCsrf(first, first.csrfToken)).toBe(true);
    expect(s.checkCsrf(first, second.csrfToken)).toBe(false);
    expect(s.checkCsrf(first, undefined)).toBe(false);
  });

  it('reads one cookie out of a Cookie header', () => {
    expect(readCookie('a=1; waitpoints_dashboard=abc.def; b=2', 'waitpoints_dashboard')).toBe('abc.def');
    expect(readCookie('a=1', 'waitpoints_dashboard')).toBeUndefined();
    expect(readCookie(undefined, 'x')).toBeUndefined();
  });
});
