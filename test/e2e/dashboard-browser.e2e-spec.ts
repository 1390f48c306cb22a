/**
 * The dashboard in a real browser (Debian's Chromium, headless, through playwright-core):
 * a moderator signs in, filters the token list, opens a token, completes it, and watches the
 * timeline; pages update live while changes happen elsewhere. A screenshot of every page is
 * saved under test-output/dashboard/.
 */
import { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';
import { RunningScheduler, startScheduler } from '../support/scheduler';
import { eventually, launchChromium, screenshotPath } from '../support/browser';

// Generous: the machine running CI is small and shared; live updates poll every 2 s.
const LIVE_MS = 15_000;

let system: RunningSystem;
let scheduler: RunningScheduler | undefined;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  system = await startSystem();
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: system.baseUrl });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await scheduler?.stop();
  await system?.stop();
});

async function api(method: string, path: string, body?: unknown, key: string = TEST_KEYS.dev): Promise<any> {
  const response = await fetch(`${system.tokensUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}
const createToken = (body: object, key?: string): Promise<{ id: string; url: string }> => api('POST', '', body, key);

const text = async (locator: Locator) => ((await locator.textContent()) ?? '').trim();
const seeText = (locator: Locator, expected: string | RegExp, timeoutMs?: number) =>
  eventually(async () => {
    const actual = await text(locator);
    if (typeof expected === 'string') expect(actual).toContain(expected);
    else expect(actual).toMatch(expected);
  }, timeoutMs);
const seeCount = (locator: Locator, count: number, timeoutMs?: number) =>
  eventually(async () => expect(await locator.count()).toBe(count), timeoutMs);
const seeUrl = (expected: RegExp) => eventually(() => expect(page.url()).toMatch(expected));
const seeVisible = (locator: Locator, visible = true) => eventually(async () => expect(await locator.isVisible()).toBe(visible));
const firstRowId = () => tokenRows().first().getAttribute('data-token-id');

const tokenRows = () => page.locator('[data-testid="token-table"] tbody tr');

describe('the dashboard in a browser', () => {
  const seeded: Record<string, string> = {};

  beforeAll(async () => {
    seeded.vip = (await createToken({ timeout: '1h', tags: ['vip', 'order:1'] })).id;
    seeded.plain = (await createToken({ timeout: '1h', tags: ['order:2'], idempotencyKey: 'approve-order-2' })).id;
    seeded.done = (await createToken({ timeout: '1h', tags: ['vip'] })).id;
    await api('POST', `/${seeded.done}/complete`, { data: { approved: false } });
    seeded.prod = (await createToken({ timeout: '1h', tags: ['vip'] }, TEST_KEYS.prod)).id;
  });

  it('asks for an API key, refuses a wrong one, and opens the environment of the right one', async () => {
    await page.goto(`${system.baseUrl}/dashboard`);
    await seeUrl(/\/dashboard\/login/);
    await page.screenshot({ path: screenshotPath('01-login'), fullPage: true });

    await page.fill('#apiKey', 'tr_dev_this_is_not_a_key');
    await page.click('button[type=submit]');
    await seeText(page.getByTestId('flash'), 'That API key is not valid.');

    await page.fill('#apiKey', TEST_KEYS.dev);
    await page.click('button[type=submit]');
    await seeUrl(/\/dashboard$/);
    await seeText(page.getByTestId('environment'), 'dev');
  });

  it('shows the overview: counts by status, oldest waiting token, the last hour, and n/a without a scheduler', async () => {
    await seeVisible(page.getByRole('heading', { name: 'Overview' }));
    await seeText(page.getByTestId('count-WAITING'), '2');
    await seeText(page.getByTestId('count-COMPLETED'), '1');
    await seeText(page.getByTestId('oldest-waiting'), /^\d+s$|^\d+m/);
    await seeText(page.getByTestId('last-hour'), /Created\s*3\s*Completed\s*1/);
    await seeText(page.getByTestId('lateness-p99'), 'n/a');
    await page.screenshot({ path: screenshotPath('02-overview'), fullPage: true });
  });

  it("lists the environment's tokens, newest first, and filters them with the API's filters", async () => {
    await page.getByRole('link', { name: 'Tokens', exact: true }).click();
    await seeCount(tokenRows(), 3);
    await eventually(async () => expect(await firstRowId()).toBe(seeded.done));
    await seeCount(page.locator(`[data-token-id="${seeded.prod}"]`), 0);

    // Waiting tokens tagged vip: only one.
    await page.getByLabel('Waiting').check();
    await page.getByLabel('Tags').fill('vip');
    await page.getByRole('button', { name: 'Apply' }).click();
    await seeUrl(/status=WAITING/);
    await seeCount(tokenRows(), 1);
    await eventually(async () => expect(await firstRowId()).toBe(seeded.vip));

    // By idempotency key.
    await page.goto(`${system.baseUrl}/dashboard/tokens?idempotencyKey=approve-order-2`);
    await seeCount(tokenRows(), 1);
    await eventually(async () => expect(await firstRowId()).toBe(seeded.plain));
  });

  it('pages through the list with the cursor', async () => {
    await page.goto(`${system.baseUrl}/dashboard/tokens?tags=vip,order:2&size=25`);
    await seeCount(tokenRows(), 3);
    // The form offers 25/50/100 per page; a smaller page is reachable through the URL.
    await page.goto(`${system.baseUrl}/dashboard/tokens?size=2`);
    await seeCount(tokenRows(), 2);
    await page.getByRole('link', { name: 'Older →' }).click();
    await seeCount(tokenRows(), 1);
    await eventually(async () => expect(await firstRowId()).toBe(seeded.vip));
    await page.getByRole('link', { name: '← Newer' }).click();
    await seeCount(tokenRows(), 2);
  });

  it('shows new tokens in the list without a reload', async () => {
    await page.goto(`${system.baseUrl}/dashboard/tokens?tags=vip&status=WAITING`);
    await seeCount(tokenRows(), 1);
    const fresh = await createToken({ timeout: '1h', tags: ['vip'] });
    await seeCount(page.locator(`[data-token-id="${fresh.id}"]`), 1, LIVE_MS);
    await seeCount(tokenRows(), 2);
    await page.screenshot({ path: screenshotPath('03-tokens'), fullPage: true });
    seeded.fresh = fresh.id;
  });

  it('opens a token: fields, callback URL with a copy button, and its timeline', async () => {
    await page.locator(`[data-token-id="${seeded.vip}"] a`).click();
    await seeText(page.getByRole('heading', { level: 1 }), seeded.vip);
    await seeText(page.getByTestId('fields'), 'Waiting');
    await seeText(page.getByTestId('fields'), 'order:1');
    const url = await page.getByTestId('callback-url').inputValue();
    expect(url).toMatch(new RegExp(`/api/v1/waitpoints/tokens/${seeded.vip}/callback/[0-9a-f]+$`));
    await page.getByRole('button', { name: 'Copy' }).click();
    await seeVisible(page.getByRole('button', { name: 'Copied' }));
    expect(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(url);

    await seeCount(page.locator('[data-testid="timeline"] > li'), 1);
    await seeText(page.locator('[data-testid="timeline"] > li').first(), 'Created');
    await seeText(page.locator('[data-testid="timeline"] > li').first(), 'by api_key:dev');
    await page.screenshot({ path: screenshotPath('04-token-waiting'), fullPage: true });

    // Live refreshes leave what did not change alone: a payload folded away stays folded.
    const payload = page.locator('[data-testid="timeline"] > li details').first();
    await payload.locator('summary').click();
    expect(await payload.getAttribute('open')).toBeNull();
    await page.waitForTimeout(4_500);
    expect(await payload.getAttribute('open')).toBeNull();
  });

  it('validates the JSON payload in the browser before anything is sent', async () => {
    await page.fill('#complete-data', '{"approved": tru');
    await seeText(page.locator('#complete-data-error'), 'Not valid JSON');
    await page.getByRole('button', { name: 'Complete…' }).click();
    await seeVisible(page.locator('#confirm-dialog'), false);
    await seeText(page.getByTestId('fields'), 'Waiting');
  });

  it('completes the token after confirmation, shows the result, the output and the new event', async () => {
    await page.fill('#complete-data', '{"approved": true, "by": "moderator"}');
    await seeVisible(page.locator('#complete-data-error'), false);
    await page.getByRole('button', { name: 'Complete…' }).click();
    const dialog = page.locator('#confirm-dialog');
    await seeVisible(dialog);
    await seeText(dialog, `Complete ${seeded.vip} with this payload?`);
    await seeText(page.locator('#confirm-preview'), '"approved": true');
    await page.screenshot({ path: screenshotPath('05-confirm-complete'), fullPage: true });
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Complete', exact: true }).click();

    await seeText(page.getByTestId('flash'), /Token completed\./);
    await seeText(page.getByTestId('fields'), 'Completed');
    await seeText(page.getByTestId('output'), '"by": "moderator"');
    const events = page.locator('[data-testid="timeline"] > li');
    await seeCount(events, 2);
    await seeText(events.nth(1), 'Completed');
    await seeText(events.nth(1), 'via dashboard');
    await seeText(events.nth(1), 'by dashboard:dev');
    await seeVisible(page.locator('section.actions'), false);
    await page.screenshot({ path: screenshotPath('06-token-completed'), fullPage: true });

    expect(await api('GET', `/${seeded.vip}`)).toMatchObject({
      status: 'COMPLETED',
      output: JSON.stringify({ approved: true, by: 'moderator' }),
    });
  });

  it('updates the timeline live when the token is completed elsewhere (its callback URL)', async () => {
    await page.goto(`${system.baseUrl}/dashboard/tokens/${seeded.fresh}`);
    await seeCount(page.locator('[data-testid="timeline"] > li'), 1);
    const { url } = (await api('GET', `/${seeded.fresh}`)) as { url: string };
    const callback = await fetch(url, { method: 'POST', body: JSON.stringify({ from: 'webhook' }) });
    expect(callback.status).toBe(200);

    const events = page.locator('[data-testid="timeline"] > li');
    await seeCount(events, 2, LIVE_MS);
    await seeText(events.nth(1), 'via callback');
    await eventually(
      async () => expect(await page.locator('[data-token-status]').getAttribute('data-token-status')).toBe('COMPLETED'),
      LIVE_MS,
    );
    await seeText(page.getByTestId('output'), '"from": "webhook"');
    await seeVisible(page.locator('section.actions'), false);
  });

  it('times a token out now, after confirmation; the event is marked forced', async () => {
    await page.goto(`${system.baseUrl}/dashboard/tokens/${seeded.plain}`);
    await page.getByRole('button', { name: 'Time out now…' }).click();
    await seeText(page.locator('#confirm-dialog'), 'before its deadline');
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Time out now', exact: true }).click();
    await seeText(page.getByTestId('flash'), /Token timed out now\./);
    const events = page.locator('[data-testid="timeline"] > li');
    await seeText(events.nth(1), 'Timed out');
    await seeText(events.nth(1), 'forced');
    await seeText(page.getByTestId('output'), 'TRIGGER_WAITPOINT_TIMEOUT');
  });

  it('cancels a token with a reason; going back in the dialog changes nothing', async () => {
    const { id } = await createToken({ timeout: '1h' });
    await page.goto(`${system.baseUrl}/dashboard/tokens/${id}`);
    await page.getByLabel('Cancellation reason').fill('customer withdrew');
    await page.getByRole('button', { name: 'Cancel token…' }).click();
    await page.getByRole('button', { name: 'Go back' }).click();
    await seeVisible(page.locator('#confirm-dialog'), false);
    expect((await api('GET', `/${id}`)).status).toBe('WAITING');

    await page.getByRole('button', { name: 'Cancel token…' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Cancel token', exact: true }).click();
    await seeText(page.getByTestId('flash'), /Token cancelled\./);
    await seeText(page.locator('[data-testid="timeline"] > li').nth(1), 'customer withdrew');
  });

  it('shows the scheduler lateness p99 once a scheduler has fired a timeout', async () => {
    scheduler = await startScheduler(system);
    const { id } = await createToken({ timeout: '1s' });
    const deadline = Date.now() + 20_000;
    while ((await api('GET', `/${id}`)).status !== 'TIMED_OUT') {
      if (Date.now() > deadline) throw new Error('the scheduler did not time the token out');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await page.goto(`${system.baseUrl}/dashboard`);
    await seeText(page.getByTestId('lateness-p99'), /^\d+(\.\d+)? (ms|s)$/);
    await seeText(page.getByTestId('count-TIMED_OUT'), '2');
    await page.screenshot({ path: screenshotPath('07-overview-with-scheduler'), fullPage: true });
  });

  it('signs out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await seeUrl(/\/dashboard\/login\?signedOut/);
    await page.goto(`${system.baseUrl}/dashboard/tokens`);
    await seeUrl(/\/dashboard\/login/);
  });
});
