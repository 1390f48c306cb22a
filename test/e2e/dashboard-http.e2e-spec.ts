/**
 * The dashboard over plain HTTP: sign-in, the session cookie, CSRF and cross-site refusals,
 * environment scoping, escaping, and what each action does to the token. The browser
 * journey is in dashboard-browser.e2e-spec.ts.
 */
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem();
});

afterAll(async () => {
  await system?.stop();
});

const dashboard = (path = '') => `${system.baseUrl}/dashboard${path}`;

async function createToken(key: string, body: object = { timeout: '1h' }): Promise<string> {
  const response = await fetch(system.tokensUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { id: string }).id;
}

async function tokenStatus(id: string, key: string = TEST_KEYS.dev): Promise<string> {
  const response = await fetch(`${system.tokensUrl}/${id}`, { headers: { authorization: `Bearer ${key}` } });
  return ((await response.json()) as { status: string }).status;
}

async function signIn(apiKey: string = TEST_KEYS.dev): Promise<{ cookie: string; setCookie: string }> {
  const response = await fetch(dashboard('/login'), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ apiKey }),
  });
  expect(response.status).toBe(303);
  const setCookie = response.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0], setCookie };
}

async function get(path: string, cookie?: string) {
  const response = await fetch(dashboard(path), { redirect: 'manual', headers: cookie ? { cookie } : {} });
  return { status: response.status, location: response.headers.get('location'), headers: response.headers, text: await response.text() };
}

function csrfOf(pageHtml: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(pageHtml);
  if (!match) throw new Error('no CSRF token on the page');
  return match[1];
}

async function post(path: string, cookie: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(dashboard(path), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  return { status: response.status, location: response.headers.get('location'), text: await response.text() };
}

describe('dashboard sign-in', () => {
  it('sends a visitor without a session to the sign-in form, and remembers where they were going', async () => {
    const page = await get('/tokens?status=WAITING');
    expect(page.status).toBe(303);
    expect(page.location).toBe('/dashboard/login?next=%2Fdashboard%2Ftokens%3Fstatus%3DWAITING');
    const form = await get('/login?next=%2Fdashboard%2Ftokens');
    expect(form.status).toBe(200);
    expect(form.text).toContain('name="apiKey"');
  });

  it('answers 401 to a live fragment without a session (the page script then goes to sign-in)', async () => {
    expect((await get('/frag/overview')).status).toBe(401);
  });

  it('refuses an unknown API key', async () => {
    const response = await fetch(dashboard('/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ apiKey: 'tr_dev_wrong_key_0000000000' }),
    });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('That API key is not valid.');
    expect(response.headers.get('set-cookie')).toBeNull();
  });

  it('sets an HttpOnly, SameSite=Strict session cookie scoped to the dashboard, without the key in it', async () => {
    const { setCookie } = await signIn();
    expect(setCookie).toMatch(/^waitpoints_dashboard=[^;]+/);
    expect(setCookie).toMatch(/; HttpOnly/i);
    expect(setCookie).toMatch(/; SameSite=Strict/i);
    expect(setCookie).toMatch(/; Path=\/dashboard/i);
    expect(setCookie).not.toContain(TEST_KEYS.dev);
  });

  it('goes back to the page the visitor wanted, but never off the dashboard', async () => {
    const login = (next: string) =>
      fetch(dashboard('/login'), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ apiKey: TEST_KEYS.dev, next }),
      }).then((r) => r.headers.get('location'));
    expect(await login('/dashboard/tokens?status=WAITING')).toBe('/dashboard/tokens?status=WAITING');
    expect(await login('https://evil.example/')).toBe('/dashboard');
    expect(await login('/dashboard//evil.example')).toBe('/dashboard');
  });

  it('refuses a sign-in form posted from another site', async () => {
    const response = await fetch(dashboard('/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ apiKey: TEST_KEYS.dev }),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('set-cookie')).toBeNull();
  });

  it('ignores a tampered cookie', async () => {
    const { cookie } = await signIn();
    const tampered = `${cookie.slice(0, -3)}abc`;
    expect((await get('', tampered)).status).toBe(303);
  });

  it('signs out: the cookie is cleared', async () => {
    const { cookie } = await signIn();
    const overview = await get('', cookie);
    const response = await post('/logout', cookie, { csrf: csrfOf(overview.text) });
    expect(response.status).toBe(303);
    expect(response.location).toBe('/dashboard/login?signedOut');
  });

  it('serves pages with a strict content security policy and no caching', async () => {
    const { cookie } = await signIn();
    const overview = await get('', cookie);
    expect(overview.status).toBe(200);
    expect(overview.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(overview.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(overview.headers.get('cache-control')).toBe('no-store');
    expect(overview.headers.get('content-type')).toMatch(/^text\/html/);
  });
});

describe('dashboard pages', () => {
  it("shows the environment of the key: the other environment's tokens do not exist there", async () => {
    const devToken = await createToken(TEST_KEYS.dev, { timeout: '1h', tags: ['scoping'] });
    const prodToken = await createToken(TEST_KEYS.prod, { timeout: '1h', tags: ['scoping'] });
    const { cookie } = await signIn(TEST_KEYS.dev);

    const list = await get('/tokens?tags=scoping', cookie);
    expect(list.text).toContain(devToken);
    expect(list.text).not.toContain(prodToken);
    expect((await get(`/tokens/${prodToken}`, cookie)).status).toBe(404);
    expect((await get(`/frag/tokens/${prodToken}`, cookie)).status).toBe(404);
  });

  it('escapes everything a client wrote (tags, idempotency keys)', async () => {
    const hostile = '<script>alert(1)</script>';
    const id = await createToken(TEST_KEYS.dev, { timeout: '1h', tags: [hostile], idempotencyKey: `"><img src=x>` });
    const { cookie } = await signIn();
    for (const path of ['/tokens', `/tokens/${id}`]) {
      const page = await get(path, cookie);
      expect(page.text).not.toContain(hostile);
      expect(page.text).not.toContain('<img src=x>');
      expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
  });

  it('answers 404 for a token id that cannot be one of ours, on the page, its fragment and its actions', async () => {
    const { cookie } = await signIn();
    const csrf = csrfOf((await get('', cookie)).text);
    expect((await get('/tokens/nonsense', cookie)).status).toBe(404);
    expect((await get('/frag/tokens/nonsense', cookie)).status).toBe(404);
    for (const action of ['complete', 'timeout', 'cancel']) {
      expect({ action, status: (await post(`/tokens/nonsense/${action}`, cookie, { csrf, confirmed: 'yes', data: '1' })).status }).toEqual({
        action,
        status: 404,
      });
      // The form's origin is checked before anything else in the request.
      expect({ action, status: (await post(`/tokens/nonsense/${action}`, cookie, { csrf: 'forged' })).status }).toEqual({
        action,
        status: 403,
      });
    }
  });

  it('reports an invalid filter with the field name, and still shows the form', async () => {
    const { cookie } = await signIn();
    const page = await get('/tokens?period=soon', cookie);
    expect(page.status).toBe(400);
    expect(page.text).toContain('Created within &quot;soon&quot; is not valid');
    expect(page.text).toContain('name="period"');
  });

  it('shows "n/a" for the scheduler lateness when no scheduler answers', async () => {
    const { cookie } = await signIn();
    const page = await get('', cookie);
    expect(page.text).toMatch(/data-testid="lateness-p99">n\/a</);
    expect(page.text).toContain('no scheduler');
  });
});

describe('dashboard actions', () => {
  async function openToken(id: string) {
    const { cookie } = await signIn();
    const page = await get(`/tokens/${id}`, cookie);
    expect(page.status).toBe(200);
    return { cookie, csrf: csrfOf(page.text) };
  }

  it('completes a token with the JSON payload, recorded as a dashboard completion', async () => {
    const id = await createToken(TEST_KEYS.dev);
    const { cookie, csrf } = await openToken(id);
    const response = await post(`/tokens/${id}/complete`, cookie, { csrf, confirmed: 'yes', data: '{ "approved": true }' });
    expect(response.status).toBe(303);
    expect(response.location).toBe(`/dashboard/tokens/${id}?done=complete&changed=1`);

    const retrieved = await fetch(`${system.tokensUrl}/${id}`, { headers: { authorization: `Bearer ${TEST_KEYS.dev}` } });
    expect(await retrieved.json()).toMatchObject({ status: 'COMPLETED', output: '{"approved":true}' });
    const page = await get(`/tokens/${id}?done=complete&changed=1`, cookie);
    expect(page.text).toContain('Token completed.');
    expect(page.text).toContain('via dashboard');
    expect(page.text).toContain('by dashboard:dev');
  });

  it('asks for confirmation first when the form was sent without it (no script)', async () => {
    const id = await createToken(TEST_KEYS.dev);
    const { cookie, csrf } = await openToken(id);
    const response = await post(`/tokens/${id}/timeout`, cookie, { csrf });
    expect(response.status).toBe(200);
    expect(response.text).toContain('Please confirm');
    expect(response.text).toContain('name="confirmed" value="yes"');
    expect(await tokenStatus(id)).toBe('WAITING');
  });

  it('refuses invalid JSON and keeps what was typed', async () => {
    const id = await createToken(TEST_KEYS.dev);
    const { cookie, csrf } = await openToken(id);
    const response = await post(`/tokens/${id}/complete`, cookie, { csrf, confirmed: 'yes', data: '{approved: yes}' });
    expect(response.status).toBe(400);
    expect(response.text).toContain('not valid JSON');
    expect(response.text).toContain('{approved: yes}</textarea>');
    expect(await tokenStatus(id)).toBe('WAITING');
  });

  it("refuses a form without the session's CSRF token, or posted from another site", async () => {
    const id = await createToken(TEST_KEYS.dev);
    const { cookie, csrf } = await openToken(id);
    expect((await post(`/tokens/${id}/cancel`, cookie, { confirmed: 'yes' })).status).toBe(403);
    expect((await post(`/tokens/${id}/cancel`, cookie, { confirmed: 'yes', csrf: 'forged' })).status).toBe(403);
    const crossSite = await post(`/tokens/${id}/cancel`, cookie, { confirmed: 'yes', csrf }, { origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    expect(await tokenStatus(id)).toBe('WAITING');
  });

  it('times a token out before its deadline; the event says it was forced', async () => {
    const id = await createToken(TEST_KEYS.dev, { timeout: '1d' });
    const { cookie, csrf } = await openToken(id);
    const response = await post(`/tokens/${id}/timeout`, cookie, { csrf, confirmed: 'yes' });
    expect(response.location).toBe(`/dashboard/tokens/${id}?done=timeout&changed=1`);
    expect(await tokenStatus(id)).toBe('TIMED_OUT');
    const page = await get(`/tokens/${id}`, cookie);
    expect(page.text).toContain('forced');
  });

  it('cancels with a reason; cancelling a completed token is refused and says why', async () => {
    const id = await createToken(TEST_KEYS.dev);
    const { cookie, csrf } = await openToken(id);
    const cancelled = await post(`/tokens/${id}/cancel`, cookie, { csrf, confirmed: 'yes', reason: 'duplicate order' });
    expect(cancelled.location).toBe(`/dashboard/tokens/${id}?done=cancel&changed=1`);
    expect((await get(`/tokens/${id}`, cookie)).text).toContain('duplicate order');

    const completed = await createToken(TEST_KEYS.dev);
    await post(`/tokens/${completed}/complete`, cookie, { csrf, confirmed: 'yes', data: '1' });
    const refused = await post(`/tokens/${completed}/cancel`, cookie, { csrf, confirmed: 'yes' });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('is already COMPLETED and cannot be cancelled');
  });

  it("cannot act on another environment's token", async () => {
    const prodToken = await createToken(TEST_KEYS.prod);
    const { cookie } = await signIn(TEST_KEYS.dev);
    const csrf = csrfOf((await get('', cookie)).text);
    const response = await post(`/tokens/${prodToken}/timeout`, cookie, { csrf, confirmed: 'yes' });
    expect(response.status).toBe(404);
    expect(await tokenStatus(prodToken, TEST_KEYS.prod)).toBe('WAITING');
  });

  it('says nothing changed when the token had already finished', async () => {
    const id = await createToken(TEST_KEYS.dev);
    const { cookie, csrf } = await openToken(id);
    await post(`/tokens/${id}/complete`, cookie, { csrf, confirmed: 'yes', data: '"first"' });
    const again = await post(`/tokens/${id}/complete`, cookie, { csrf, confirmed: 'yes', data: '"second"' });
    expect(again.location).toBe(`/dashboard/tokens/${id}?done=complete&changed=0`);
    expect((await get(again.location!.replace('/dashboard', ''), cookie)).text).toContain(
      'Nothing changed: the token had already finished (COMPLETED).',
    );
  });
});
