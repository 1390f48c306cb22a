/**
 * A token's approval page in a real browser (Debian's Chromium, headless, through
 * playwright-core): an approver opens the approvalUrl on a phone-sized screen, reads the title
 * and description, approves with a comment and sees the finished state; the same works with
 * JavaScript turned off (the page has no script: a plain form POST); a required comment is
 * enforced; the dashboard shows the approval texts and the channel in the timeline.
 * Screenshots are saved under test-output/approval/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';
import { eventually, launchChromium } from '../support/browser';

const SCREENSHOTS = join(__dirname, '..', '..', 'test-output', 'approval');
const shot = (name: string) => join(SCREENSHOTS, `${name}.png`);

let system: RunningSystem;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  system = await startSystem();
  browser = await launchChromium();
  mkdirSync(SCREENSHOTS, { recursive: true });
});

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await system?.stop();
});

async function newPage(options: { javaScriptEnabled: boolean; mobile: boolean }): Promise<Page> {
  const context = await browser.newContext({
    javaScriptEnabled: options.javaScriptEnabled,
    viewport: options.mobile ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    ...(options.mobile && { isMobile: true, hasTouch: true, deviceScaleFactor: 2 }),
  });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${system.tokensUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}

const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? '').trim();

describe('the approval page in a browser', () => {
  it('on a phone: shows the request, approves with a comment, then shows the finished state', async () => {
    const token = await api('POST', '', {
      timeout: '2h',
      approval: {
        title: 'Refund €120 to order #4711?',
        description: 'The customer reports the parcel arrived damaged.\nPhotos are attached to the ticket.',
        approveLabel: 'Refund',
        rejectLabel: 'Decline',
      },
    });
    const page = await newPage({ javaScriptEnabled: true, mobile: true });
    const csp: string[] = [];
    page.on('console', (message) => message.text().includes('Content Security Policy') && csp.push(message.text()));
    await page.goto(token.approvalUrl);

    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Refund €120 to order #4711?');
    expect(await text(page, '[data-testid="description"]')).toContain('arrived damaged.\nPhotos');
    expect(await text(page, '.meta')).toMatch(/times out at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    // Laid out for the phone: nothing wider than the screen, buttons big enough to tap.
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    const button = await page.getByRole('button', { name: 'Refund' }).boundingBox();
    expect(button!.height).toBeGreaterThanOrEqual(44);
    expect(await page.getByLabel(/Comment/).isVisible()).toBe(true);
    await page.screenshot({ path: shot('01-waiting-mobile'), fullPage: true });

    await page.getByLabel(/Comment/).fill('Approved per policy 3.2.');
    await page.getByRole('button', { name: 'Refund' }).click();
    await eventually(async () => expect(await text(page, '[data-testid="outcome"]')).toContain('Approved'));
    expect(await text(page, '[data-testid="comment"]')).toBe('Approved per policy 3.2.');
    expect(await page.locator('form').count()).toBe(0);
    await page.screenshot({ path: shot('02-approved-mobile'), fullPage: true });
    // The inline style is allowed by its hash: the browser reported no CSP violation.
    expect(csp).toEqual([]);

    const retrieved = await api('GET', `/${token.id}`);
    expect(retrieved).toMatchObject({ status: 'COMPLETED', output: '{"approved":true,"comment":"Approved per policy 3.2."}' });

    // Reloading (a GET) shows the same final state and changes nothing.
    await page.goto(token.approvalUrl);
    expect(await text(page, '[data-testid="outcome"]')).toContain('Approved');
  });

  it('without JavaScript: the plain form POST works, a required comment is asked for', async () => {
    const token = await api('POST', '', {
      timeout: '30m',
      approval: { title: 'Publish the quarterly report?', description: 'Draft v3, reviewed by finance.', commentRequired: true },
    });
    const page = await newPage({ javaScriptEnabled: false, mobile: false });
    // A second tab with the same form, answered after the first one.
    const stale = await page.context().newPage();
    await stale.goto(token.approvalUrl);
    await page.goto(token.approvalUrl);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Publish the quarterly report?');
    expect(await text(page, '[data-testid="description"]')).toBe('Draft v3, reviewed by finance.');
    expect(await page.getByLabel(/Comment/).getAttribute('required')).not.toBeNull();
    await page.screenshot({ path: shot('03-waiting-no-js'), fullPage: true });

    // A comment of only spaces passes the browser's `required` check; the server refuses it.
    await page.getByLabel(/Comment/).fill('   ');
    await page.getByRole('button', { name: 'Approve' }).click();
    await eventually(async () => expect(await text(page, '[role="alert"]')).toContain('A comment is required'));
    await page.screenshot({ path: shot('04-comment-required-no-js'), fullPage: true });
    expect((await api('GET', `/${token.id}`)).status).toBe('WAITING');

    await page.getByLabel(/Comment/).fill('Numbers check out.');
    await page.getByRole('button', { name: 'Approve' }).click();
    await eventually(async () => expect(await text(page, '[data-testid="outcome"]')).toContain('Approved'));
    expect(await text(page, '[data-testid="comment"]')).toBe('Numbers check out.');
    await page.screenshot({ path: shot('05-approved-no-js'), fullPage: true });

    // The other tab's form, submitted now, changes nothing: it answers the final state.
    await stale.getByLabel(/Comment/).fill('Second thoughts');
    await stale.getByRole('button', { name: 'Reject' }).click();
    await eventually(async () => expect(await text(stale, '[data-testid="outcome"]')).toContain('Approved'));
    expect(await text(stale, '[data-testid="comment"]')).toBe('Numbers check out.');
    expect((await api('GET', `/${token.id}`)).output).toBe('{"approved":true,"comment":"Numbers check out."}');
  });

  it('a cancelled request says so', async () => {
    const token = await api('POST', '', { timeout: '30m', approval: { title: 'Rotate the production keys?' } });
    await api('POST', `/${token.id}/cancel`, { reason: 'done manually' });
    const page = await newPage({ javaScriptEnabled: false, mobile: true });
    await page.goto(token.approvalUrl);
    expect(await text(page, '[data-testid="outcome"]')).toContain('This request was cancelled');
    await page.screenshot({ path: shot('06-cancelled-mobile'), fullPage: true });
  });

  it('the dashboard shows the approval texts and the approval_page channel in the timeline', async () => {
    const token = await api('POST', '', {
      timeout: '1h',
      approval: { title: 'Deploy v2.3 to production?', description: 'Includes the billing migration.', commentRequired: true },
    });
    const approver = await newPage({ javaScriptEnabled: false, mobile: true });
    await approver.goto(token.approvalUrl);
    await approver.getByLabel(/Comment/).fill('Not during the sale.');
    await approver.getByRole('button', { name: 'Reject' }).click();
    await eventually(async () => expect(await text(approver, '[data-testid="outcome"]')).toContain('Rejected'));

    const page = await newPage({ javaScriptEnabled: true, mobile: false });
    await page.goto(`${system.baseUrl}/dashboard/login`);
    await page.fill('#apiKey', TEST_KEYS.dev);
    await page.click('button[type=submit]');
    await eventually(() => expect(page.url()).toMatch(/\/dashboard$/));
    await page.goto(`${system.baseUrl}/dashboard/tokens/${token.id}`);
    expect(await text(page, '[data-testid="approval-title"]')).toBe('Deploy v2.3 to production?');
    expect(await text(page, '[data-testid="approval-description"]')).toBe('Includes the billing migration.');
    expect(await page.getByTestId('approval-url').inputValue()).toBe(token.approvalUrl);
    await eventually(async () => expect(await text(page, '[data-testid="timeline"]')).toContain('via approval_page'));
    expect(await text(page, '[data-testid="timeline"]')).toContain('by approval_page');
    await page.screenshot({ path: shot('07-dashboard-token'), fullPage: true });
  });
});
