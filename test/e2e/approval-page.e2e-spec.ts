/**
 * A token's approval page over HTTP (issue 12): creating a token with `approval`, the signed
 * approvalUrl, the page a GET shows (and that GET changes nothing), the form POST with its
 * form token, and every refusal: a bad hash, another token's hash, the callback hash, a
 * missing or forged form token, a cross-site post, a missing required comment, a finished
 * token. The system runs in this process against real PostgreSQL and NATS.
 */
import { connect, StringCodec } from 'nats';
import { Client } from 'pg';
import { TEST_NATS_URL, uniqueRunName } from '../support/services';
import { hmacHex } from '../../apps/gateway/src/auth/secrets';
import { RunningSystem, TEST_KEYS, TEST_SIGNING_SECRETS, startSystem } from '../support/system';

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem();
});

afterAll(async () => {
  await system?.stop();
});

async function create(body: object, key: string = TEST_KEYS.dev) {
  const response = await fetch(system.tokensUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

async function createApproval(approval: object = { title: 'Deploy v2.3 to production?' }, extra: object = {}) {
  const { status, body } = await create({ timeout: '1h', approval, ...extra });
  expect(status).toBe(200);
  return body as { id: string; url: string; approvalUrl: string; isCached: boolean };
}

const page = async (url: string) => {
  const response = await fetch(url, { redirect: 'manual' });
  return { status: response.status, headers: response.headers, html: await response.text() };
};

/** The form token embedded in a page. */
const formTokenOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1];

async function submit(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, headers: response.headers, html: await response.text() };
}

/** Opens the page and answers its form, as a browser would. */
async function answer(url: string, fields: Record<string, string>) {
  const shown = await page(url);
  return submit(url, { csrf: formTokenOf(shown.html)!, ...fields });
}

async function retrieve(id: string) {
  const response = await fetch(`${system.tokensUrl}/${id}`, { headers: { authorization: `Bearer ${TEST_KEYS.dev}` } });
  return (await response.json()) as any;
}

async function eventsOf(id: string): Promise<{ type: string; data: any; metadata: any }[]> {
  const db = new Client({ connectionString: system.databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query(
      `SELECT event_type AS type, data, metadata FROM es_events WHERE stream_id = $1 ORDER BY stream_version`,
      [`token-${id.replace('waitpoint_', '')}`],
    );
    return rows;
  } finally {
    await db.end();
  }
}

async function forceTimeout(id: string) {
  const nc = await connect({ servers: TEST_NATS_URL });
  try {
    const data = { tokenId: id.replace('waitpoint_', ''), force: true, metadata: { correlationId: 'ops', actor: { type: 'operator' } } };
    await nc.request(
      `${system.subjectPrefix}.cmd.token.timeout`,
      StringCodec().encode(JSON.stringify({ pattern: 'cmd.token.timeout', id: '1', data })),
      {
        timeout: 5000,
      },
    );
  } finally {
    await nc.close();
  }
}

describe('create with approval', () => {
  it('answers an approvalUrl distinct from the callback url, and stores the texts in the event and the read model', async () => {
    const approval = {
      title: 'Refund €120?',
      description: 'Order 42\nCustomer asked twice.',
      approveLabel: 'Refund',
      rejectLabel: 'Decline',
      commentRequired: true,
    };
    const token = await createApproval(approval);
    expect(token.approvalUrl).toMatch(new RegExp(`^${system.tokensUrl}/${token.id}/approval/[0-9a-f]{64}$`));
    const approvalHash = token.approvalUrl.split('/').pop();
    const callbackHash = token.url.split('/').pop();
    expect(approvalHash).not.toBe(callbackHash);

    const [created] = await eventsOf(token.id);
    expect(created.data.approval).toEqual(approval);
    const db = new Client({ connectionString: system.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query(`SELECT approval FROM waitpoint_tokens WHERE id = $1`, [token.id.replace('waitpoint_', '')]);
      expect(rows[0].approval).toEqual(approval);
    } finally {
      await db.end();
    }
  });

  it('answers no approvalUrl without approval, and the same one again for a cached token', async () => {
    const plain = await create({ timeout: '1h' });
    expect(plain.body).not.toHaveProperty('approvalUrl');
    const idempotencyKey = `approval-${Date.now()}`;
    const first = await createApproval({ title: 'Once' }, { idempotencyKey });
    const again = await createApproval({ title: 'Once' }, { idempotencyKey });
    expect(again).toEqual({ ...first, isCached: true });
  });

  it.each([
    [{ approval: 'yes' }, 'approval must be an object'],
    [{ approval: null }, 'approval must be an object'],
    [{ approval: {} }, 'approval.title is required'],
    [{ approval: { title: '   ' } }, 'approval.title must not be blank'],
    [{ approval: { title: 'x'.repeat(201) } }, 'approval.title must be at most 200 characters (this one has 201)'],
    [{ approval: { title: 't', description: 'd'.repeat(4001) } }, 'approval.description must be at most 4000 characters'],
    [{ approval: { title: 't', approveLabel: 'a'.repeat(41) } }, 'approval.approveLabel must be at most 40 characters'],
    [{ approval: { title: 't', rejectLabel: 7 } }, 'approval.rejectLabel must be a string'],
    [{ approval: { title: 't', commentRequired: 'yes' } }, 'approval.commentRequired must be true or false'],
    [{ approval: { title: 't', html: '<b>' } }, 'approval: unknown field "html"'],
    [{ approval: { title: 'nul \u0000' } }, 'approval.title contains a NUL character'],
  ])('refuses a bad approval with a 400 that says why: %#', async (body, message) => {
    const { status, body: error } = await create(body);
    expect(status).toBe(400);
    expect(error.error).toContain(message);
  });
});

describe('the approval page (GET)', () => {
  it('shows the title, description, timeout and both buttons, with the security headers', async () => {
    const token = await createApproval({ title: 'Ship <it>?', description: 'Line 1\nLine "2"', approveLabel: 'Ship', rejectLabel: 'Hold' });
    const shown = await page(token.approvalUrl);
    expect(shown.status).toBe(200);
    expect(shown.headers.get('content-type')).toContain('text/html');
    expect(shown.html).toContain('<h1 id="title">Ship &lt;it&gt;?</h1>');
    expect(shown.html).toContain('Line 1\nLine &quot;2&quot;');
    expect(shown.html).toContain('name="viewport"');
    expect(shown.html).toMatch(/<form method="post" action="\/api\/v1\/waitpoints\/tokens\/waitpoint_\w+\/approval\/[0-9a-f]{64}">/);
    expect(shown.html).toContain('value="approve" class="approve">Ship</button>');
    expect(shown.html).toContain('value="reject" class="reject">Hold</button>');
    expect(shown.html).toContain('<label for="comment">');
    expect(shown.html).not.toContain('<script');
    const csp = shown.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('script-src');
    expect(shown.headers.get('x-frame-options')).toBe('DENY');
    expect(shown.headers.get('referrer-policy')).toBe('no-referrer');
    expect(shown.headers.get('cache-control')).toBe('no-store');
  });

  it('changes nothing, however often it is fetched', async () => {
    const token = await createApproval();
    for (let i = 0; i < 3; i++) expect((await page(token.approvalUrl)).status).toBe(200);
    await fetch(token.approvalUrl, { method: 'HEAD' });
    expect((await retrieve(token.id)).status).toBe('WAITING');
    expect((await eventsOf(token.id)).map((e) => e.type)).toEqual(['TokenCreated']);
    // Every rendering carries a fresh form token.
    expect(formTokenOf((await page(token.approvalUrl)).html)).not.toBe(formTokenOf((await page(token.approvalUrl)).html));
  });

  it("is a 404 for a wrong hash, another token's hash, the callback hash, a bad id, and a token without approval", async () => {
    const token = await createApproval();
    const other = await createApproval();
    const plain = (await create({ timeout: '1h' })).body as { id: string };
    const base = `${system.tokensUrl}/${token.id}/approval`;
    const hash = token.approvalUrl.split('/').pop()!;
    const flipped = hash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    for (const url of [
      `${base}/${flipped}`,
      `${base}/not-a-hash`,
      `${base}/${other.approvalUrl.split('/').pop()}`,
      `${base}/${token.url.split('/').pop()}`,
      `${system.tokensUrl}/waitpoint_nope/approval/${hash}`,
      // Genuinely signed, but the token was created without approval.
      `${system.tokensUrl}/${plain.id}/approval/${hmacHex(TEST_SIGNING_SECRETS[0], `approval:${plain.id.replace('waitpoint_', '')}`)}`,
    ]) {
      const shown = await page(url);
      expect([url, shown.status]).toEqual([url, 404]);
      expect(shown.html).toContain('This approval link is not valid');
      expect(shown.html).not.toContain('<form');
    }
    // The approval hash is no callback credential either.
    const asCallback = await fetch(`${system.tokensUrl}/${token.id}/callback/${hash}`, { method: 'POST', body: '{}' });
    expect(asCallback.status).toBe(401);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });
});

describe('answering the page (POST)', () => {
  it('approves with a comment: the output, the channel approval_page, and the finished page', async () => {
    const token = await createApproval();
    const answered = await answer(token.approvalUrl, { decision: 'approve', comment: '  Looks good.\r\nShip it.  ' });
    expect(answered.status).toBe(200);
    expect(answered.html).toContain('Approved');
    expect(answered.html).toContain('Looks good.\nShip it.');
    expect(answered.html).not.toContain('<form');
    expect(answered.headers.get('x-frame-options')).toBe('DENY');

    const retrieved = await retrieve(token.id);
    expect(retrieved).toMatchObject({
      status: 'COMPLETED',
      output: JSON.stringify({ approved: true, comment: 'Looks good.\nShip it.' }),
      outputIsError: false,
    });
    const events = await eventsOf(token.id);
    expect(events[1]).toMatchObject({
      type: 'TokenCompleted',
      data: { channel: 'approval_page' },
      metadata: { actor: { type: 'approval_page' } },
    });

    // The page now shows what happened, and a second submit changes nothing.
    const after = await page(token.approvalUrl);
    expect(after.html).toContain('Approved');
    expect(after.html).toMatch(/Answered on this page at <time datetime="[^"]+"/);
    expect(after.html).not.toContain('<form');
    const again = await submit(token.approvalUrl, {
      csrf: formTokenOf((await page(token.approvalUrl)).html) ?? formTokenOf(answered.html) ?? '',
      decision: 'reject',
    });
    expect(again.status).toBe(403); // a finished page embeds no form token
    expect((await eventsOf(token.id)).length).toBe(2);
  });

  it('a form opened before the token finished answers the final state and changes nothing', async () => {
    const token = await createApproval();
    const csrf = formTokenOf((await page(token.approvalUrl)).html)!;
    expect((await submit(token.approvalUrl, { csrf, decision: 'reject' })).html).toContain('Rejected');
    const second = await submit(token.approvalUrl, { csrf, decision: 'approve', comment: 'changed my mind' });
    expect(second.status).toBe(200);
    expect(second.html).toContain('Rejected');
    expect(second.html).not.toContain('changed my mind');
    expect((await retrieve(token.id)).output).toBe('{"approved":false}');
    expect((await eventsOf(token.id)).length).toBe(2);
  });

  it("refuses a missing, forged or other token's form token with a 403", async () => {
    const token = await createApproval();
    const other = await createApproval();
    const otherCsrf = formTokenOf((await page(other.approvalUrl)).html)!;
    const csrf = formTokenOf((await page(token.approvalUrl)).html)!;
    const forged = csrf.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    for (const fields of [{}, { csrf: '' }, { csrf: forged }, { csrf: otherCsrf }, { csrf: 'x'.repeat(97) }] as Record<string, string>[]) {
      const refused = await submit(token.approvalUrl, { ...fields, decision: 'approve' });
      expect(refused.status).toBe(403);
      expect(refused.html).toContain('security token');
    }
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it('refuses a post from another site (Sec-Fetch-Site, Origin or Referer) with a 403', async () => {
    const token = await createApproval();
    const csrf = formTokenOf((await page(token.approvalUrl)).html)!;
    for (const headers of [
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'https://evil.example' },
      { referer: 'https://evil.example/page' },
    ] as Record<string, string>[]) {
      const refused = await submit(token.approvalUrl, { csrf, decision: 'approve' }, headers);
      expect(refused.status).toBe(403);
    }
    expect((await retrieve(token.id)).status).toBe('WAITING');
    // Our own page sends Origin: null (no-referrer) and Sec-Fetch-Site: same-origin.
    const own = await submit(token.approvalUrl, { csrf, decision: 'approve' }, { origin: 'null', 'sec-fetch-site': 'same-origin' });
    expect(own.status).toBe(200);
    expect((await retrieve(token.id)).status).toBe('COMPLETED');
  });

  it('enforces commentRequired: the form again with the problem, 400, nothing completed', async () => {
    const token = await createApproval({ title: 'Why?', commentRequired: true });
    const shown = await page(token.approvalUrl);
    expect(shown.html).toMatch(/<textarea[^>]*required/);
    const refused = await submit(token.approvalUrl, { csrf: formTokenOf(shown.html)!, decision: 'reject', comment: '   ' });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('A comment is required');
    expect(refused.html).toContain('<form');
    expect((await retrieve(token.id)).status).toBe('WAITING');
    const answered = await submit(token.approvalUrl, { csrf: formTokenOf(refused.html)!, decision: 'reject', comment: 'Budget.' });
    expect(answered.status).toBe(200);
    expect((await retrieve(token.id)).output).toBe('{"approved":false,"comment":"Budget."}');
  });

  it('refuses a missing decision and an over-long comment with the form again (400)', async () => {
    const token = await createApproval();
    expect((await answer(token.approvalUrl, { comment: 'hm' })).status).toBe(400);
    const long = await answer(token.approvalUrl, { decision: 'approve', comment: 'c'.repeat(4001) });
    expect(long.status).toBe(400);
    expect(long.html).toContain('at most 4000 characters');
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it('a bad hash on POST is a 404 and changes nothing', async () => {
    const token = await createApproval();
    const csrf = formTokenOf((await page(token.approvalUrl)).html)!;
    const refused = await submit(`${system.tokensUrl}/${token.id}/approval/${'0'.repeat(64)}`, { csrf, decision: 'approve' });
    expect(refused.status).toBe(404);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });

  it('a timed-out or cancelled token says so and offers nothing to submit', async () => {
    const timedOut = await createApproval({ title: 'Too late' });
    const csrf = formTokenOf((await page(timedOut.approvalUrl)).html)!;
    await forceTimeout(timedOut.id);
    const shownTimedOut = await page(timedOut.approvalUrl);
    expect(shownTimedOut.html).toContain('This request timed out');
    expect(shownTimedOut.html).not.toContain('<form');
    const late = await submit(timedOut.approvalUrl, { csrf, decision: 'approve' });
    expect(late.status).toBe(200);
    expect(late.html).toContain('This request timed out');
    expect((await retrieve(timedOut.id)).status).toBe('TIMED_OUT');

    const cancelled = await createApproval({ title: 'Never mind' });
    const cancel = await fetch(`${system.tokensUrl}/${cancelled.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'obsolete' }),
    });
    expect(cancel.status).toBe(200);
    const shownCancelled = await page(cancelled.approvalUrl);
    expect(shownCancelled.html).toContain('This request was cancelled');
    expect(shownCancelled.html).not.toContain('<form');
  });

  it('a token completed through the API shows that it was answered elsewhere', async () => {
    const token = await createApproval();
    await fetch(`${system.tokensUrl}/${token.id}/complete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { approved: true } }),
    });
    const shown = await page(token.approvalUrl);
    expect(shown.html).toContain('answered elsewhere');
    expect(shown.html).not.toContain('<form');
  });
});

describe('signing secret rotation', () => {
  it('an approval URL issued before the rotation still opens the page and takes the answer after it', async () => {
    const name = uniqueRunName();
    const before = await startSystem({ name });
    let token: { id: string; approvalUrl: string };
    try {
      const response = await fetch(before.tokensUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
        body: JSON.stringify({ timeout: '1h', approval: { title: 'Across the rotation?' } }),
      });
      token = (await response.json()) as { id: string; approvalUrl: string };
    } finally {
      await before.stop({ keepData: true });
    }
    // The new secret first, the old one kept behind it.
    const after = await startSystem({ name, env: { SIGNING_SECRETS: `a-brand-new-signing-secret-0123456789,${TEST_SIGNING_SECRETS[0]}` } });
    try {
      const url = token.approvalUrl.replace(before.baseUrl, after.baseUrl);
      const shown = await page(url);
      expect(shown.status).toBe(200);
      expect(shown.html).toContain('Across the rotation?');
      const answered = await submit(url, { csrf: formTokenOf(shown.html)!, decision: 'approve' });
      expect(answered.status).toBe(200);
      expect(answered.html).toContain('Approved');
    } finally {
      await after.stop();
    }
  });
});
