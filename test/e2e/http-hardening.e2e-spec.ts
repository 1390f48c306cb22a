/**
 * The gateway's HTTP hardening: security headers on every route (the REST API included) with
 * a content security policy per kind of page, and application-level timeouts for receiving a
 * request, so a client trickling its headers or body is cut off (408) within seconds instead of
 * Node's default five minutes, while an event stream, whose request is complete, stays open.
 */
import { connect } from 'node:net';
import type { Browser } from 'playwright-core';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';
import { launchChromium, screenshotPath } from '../support/browser';
import { openEventStream } from '../support/sse';

const REQUEST_TIMEOUT_MS = 2000;
const HEADERS_TIMEOUT_MS = 1000;
const auth = { authorization: `Bearer ${TEST_KEYS.dev}` };
const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem({
    env: {
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      REALTIME_HEARTBEAT_MS: '300',
    },
  });
});

afterAll(async () => {
  await system?.stop();
});

describe('security headers', () => {
  it('are on the REST API, its errors and the ops routes, with a policy that loads nothing', async () => {
    const responses = await Promise.all([
      fetch(system.tokensUrl, { headers: auth }),
      fetch(system.tokensUrl), // 401
      fetch(`${system.tokensUrl}/waitpoint_nope`, { headers: auth }), // 404
      fetch(`${system.baseUrl}/health`),
      fetch(`${system.baseUrl}/metrics`),
      fetch(`${system.baseUrl}/docs-json`),
    ]);
    expect(responses.map((response) => response.status)).toEqual([200, 401, 404, 200, 200, 200]);
    for (const response of responses) {
      expect(response.headers.get('content-security-policy')).toBe(
        "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
      );
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      // PUBLIC_URL is http here; HSTS over plain http means nothing (and is sent only for https).
      expect(response.headers.get('strict-transport-security')).toBeNull();
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('leave the CORS answers of the browser-facing routes intact', async () => {
    const preflight = await fetch(`${system.tokensUrl}/waitpoint_x/complete`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('leave the dashboard its own policy', async () => {
    const login = await fetch(`${system.baseUrl}/dashboard/login`);
    expect(login.status).toBe(200);
    expect(login.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(login.headers.get('x-frame-options')).toBe('DENY');
    expect(login.headers.get('referrer-policy')).toBe('same-origin');
    expect(login.headers.get('x-content-type-options')).toBe('nosniff');
    expect(login.headers.get('cross-origin-opener-policy')).toBe('same-origin');
  });

  describe('in a browser', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    }, 30_000);
    afterAll(async () => {
      await browser?.close();
    });

    it('Swagger UI at /docs and the dashboard render without a policy violation', async () => {
      const page = await browser.newPage();
      const violations: string[] = [];
      page.on('console', (message) => {
        if (/content security policy/i.test(message.text())) violations.push(message.text());
      });
      page.on('pageerror', (error) => violations.push(error.message));

      await page.goto(`${system.baseUrl}/docs`);
      await page.locator('.swagger-ui .info .title').filter({ hasText: 'Waitpoints REST API' }).waitFor({ timeout: 15_000 });
      await page.locator('.opblock').first().waitFor();
      await page.screenshot({ path: screenshotPath('api-docs'), fullPage: false });

      await page.goto(`${system.baseUrl}/dashboard/login`);
      await page.locator('input[name="apiKey"]').waitFor();
      expect(violations).toEqual([]);
      await page.close();
    }, 45_000);
  });
});

/** A raw connection to the gateway, to send a request as slowly as an attacker would. */
function rawConnection() {
  const socket = connect(Number(new URL(system.baseUrl).port), '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  return { socket, closed, received: () => received };
}

/** Writes `text` one character every `everyMs` until the socket closes or the text runs out. */
function trickle(socket: ReturnType<typeof connect>, text: string, everyMs: number): () => void {
  let index = 0;
  const timer = setInterval(() => {
    if (index >= text.length || socket.destroyed) return clearInterval(timer);
    socket.write(text[index++]);
  }, everyMs);
  return () => clearInterval(timer);
}

describe('request timeouts', () => {
  it('cut off a body sent a byte at a time, with 408 as JSON', async () => {
    const body = JSON.stringify({ timeout: '1h', tags: ['x'.repeat(100)] });
    const { socket, closed, received } = rawConnection();
    const started = Date.now();
    socket.write(
      `POST /api/v1/waitpoints/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_KEYS.dev}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    // 10 bytes a second: the whole body would take 12 s.
    const stop = trickle(socket, body, 100);
    const closedAt = await closed;
    stop();
    const elapsed = closedAt - started;
    expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    // The timeout plus Node's check interval (1 s), with slack for a loaded machine.
    expect(elapsed).toBeLessThan(REQUEST_TIMEOUT_MS + 2500);
    expect(received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(received()).toContain('{"error":"Request timed out before it was complete"}');
  }, 20_000);

  it('cut off headers sent a byte at a time', async () => {
    const { socket, closed, received } = rawConnection();
    const started = Date.now();
    const stop = trickle(socket, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'y'.repeat(200)}\r\n\r\n`, 50);
    const closedAt = await closed;
    stop();
    expect(closedAt - started).toBeLessThan(HEADERS_TIMEOUT_MS + 2500);
    expect(received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  }, 20_000);

  it('leave a request that arrives in time alone, however long its answer streams', async () => {
    const created = await fetch(system.tokensUrl, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ timeout: '1h' }),
    });
    const { id } = (await created.json()) as { id: string };
    const stream = await openEventStream(`${system.tokensUrl}/${id}/events`, auth);
    expect(stream.status).toBe(200);
    expect(await stream.next()).toMatchObject({ event: 'token', lastEventId: '1' });
    // Well past the request timeout and a few checks of it: the stream is still open, and
    // the completion arrives on it.
    await new Promise((resolve) => setTimeout(resolve, REQUEST_TIMEOUT_MS + 2000));
    await fetch(`${system.tokensUrl}/${id}/complete`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { late: true } }),
    });
    const changed = await stream.next(5000);
    stream.close();
    expect(changed).toMatchObject({ event: 'token', lastEventId: '2' });
    expect(JSON.parse(changed!.data)).toMatchObject({ status: 'COMPLETED' });
  }, 20_000);
});
