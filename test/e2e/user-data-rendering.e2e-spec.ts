/**
 * Whatever the API accepts, every place that shows it afterwards keeps working: the retrieve
 * route, the token's event stream, and the dashboard's token page (page and live fragment,
 * output and event timeline). Outputs are the user data that can nest, so they are the test:
 * any JSON value in a body of at most 3 MiB, nested at most 5,000 levels.
 *
 * An output nested 4,113 levels deep used to be accepted and then made its token page answer
 * 500 for ever (the timeline re-serialized it and ran out of stack).
 */
import { openEventStream } from '../support/sse';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

const MiB = 1024 * 1024;
const MAX_DEPTH = 5_000;

let system: RunningSystem;
let cookie: string;

beforeAll(async () => {
  system = await startSystem();
  const signIn = await fetch(`${system.baseUrl}/dashboard/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ apiKey: TEST_KEYS.dev }),
  });
  cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0];
});

afterAll(async () => {
  await system?.stop();
});

const auth = { authorization: `Bearer ${TEST_KEYS.dev}` };
const deepArray = (depth: number, inner = '') => '['.repeat(depth) + inner + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

async function createToken(): Promise<{ id: string; url: string }> {
  const response = await fetch(system.tokensUrl, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: '{"timeout":"1h"}',
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { id: string; url: string };
}

/** Completes with `output` (JSON text) through the API's complete route or the callback URL. */
async function completeWith(via: 'complete' | 'callback', token: { id: string; url: string }, output: string) {
  const response =
    via === 'complete'
      ? await fetch(`${system.tokensUrl}/${token.id}/complete`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: `{"data":${output}}`,
        })
      : await fetch(token.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: output });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function retrieve(id: string) {
  const response = await fetch(`${system.tokensUrl}/${id}`, { headers: auth });
  expect(response.status).toBe(200);
  return (await response.json()) as { status: string; output?: string };
}

async function dashboard(path: string) {
  const response = await fetch(`${system.baseUrl}/dashboard${path}`, { headers: { cookie }, redirect: 'manual' });
  return { status: response.status, text: await response.text() };
}

/** Comparisons of megabyte texts as booleans: a failure would otherwise print them. */
const same = (a: string | undefined, b: string) => a === b;

describe('an accepted output is shown everywhere afterwards', () => {
  // A body of exactly 3 MiB whose output is nested as deep as allowed.
  const padding = 3 * MiB - '{"data":}'.length - 2 * MAX_DEPTH - '""'.length;
  const atBodyLimit = deepArray(MAX_DEPTH, JSON.stringify('x'.repeat(padding)));
  // 3 MiB of shallow values: pretty-printed, it would run to millions of lines.
  const wide = `[${Array.from({ length: (3 * MiB) / 64 }, () => deepArray(30, '0')).join(',')}]`;

  it.each([
    ['nested 4,113 levels deep (the case that broke its token page)', 'complete', deepArray(4_113)],
    ['nested 5,000 levels deep, the limit, through complete', 'complete', deepArray(MAX_DEPTH)],
    ['nested 5,000 levels deep, through the callback URL', 'callback', deepObject(MAX_DEPTH)],
    ['nested 5,000 levels deep in a body of exactly 3 MiB', 'complete', atBodyLimit],
    ['of 3 MiB of shallow values, through the callback URL', 'callback', wide],
  ] as const)('%s', async (_label, via, output) => {
    expect(Buffer.byteLength(via === 'complete' ? `{"data":${output}}` : output)).toBeLessThanOrEqual(3 * MiB);
    const token = await createToken();
    expect(await completeWith(via, token, output)).toEqual({ status: 200, body: { success: true } });

    // The API returns the output as it was sent (compact JSON), intact.
    const retrieved = await retrieve(token.id);
    expect({ status: retrieved.status, intact: same(retrieved.output, output) }).toEqual({ status: 'COMPLETED', intact: true });

    // The event stream sends the finished token, then ends.
    const stream = await openEventStream(`${system.tokensUrl}/${token.id}/events`, auth);
    const events = await stream.rest();
    expect(events.map((event) => event.event)).toEqual(['token', 'end']);
    expect(same(JSON.parse(events[0].data).output, output)).toBe(true);

    // The dashboard shows the output as stored (too deep or too long to pretty-print), and the
    // page stays about as large as the output itself.
    const shown = `<pre class="json" data-testid="output">${escapeHtml(output)}</pre>`;
    const page = await dashboard(`/tokens/${token.id}`);
    expect({ status: page.status, showsOutput: page.text.includes(shown) }).toEqual({ status: 200, showsOutput: true });
    expect(page.text).toContain('data-event-type="TokenCompleted"');
    expect(page.text.length).toBeLessThan(escapeHtml(output).length + 128 * 1024);
    const fragment = await dashboard(`/frag/tokens/${token.id}`);
    expect({ status: fragment.status, showsOutput: fragment.text.includes(shown) }).toEqual({ status: 200, showsOutput: true });
  });
});

describe('an output nested deeper than 5,000 levels', () => {
  it.each(['complete', 'callback'] as const)('is refused by %s with 400 naming the limit, and the token page still works', async (via) => {
    const token = await createToken();
    expect(await completeWith(via, token, deepArray(MAX_DEPTH + 1))).toEqual({
      status: 400,
      body: { error: 'data is nested too deeply to store: at most 5,000 levels of arrays and objects' },
    });
    expect((await retrieve(token.id)).status).toBe('WAITING');
    expect((await dashboard(`/tokens/${token.id}`)).status).toBe(200);
  });
});

describe("the dashboard's complete form", () => {
  async function postComplete(id: string, data: string) {
    const page = await dashboard(`/tokens/${id}`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1];
    const response = await fetch(`${system.baseUrl}/dashboard/tokens/${id}/complete`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, confirmed: 'yes', data }),
    });
    return { status: response.status, text: await response.text() };
  }

  it('takes a payload nested 5,000 levels deep, and the token page shows it', async () => {
    const token = await createToken();
    expect((await postComplete(token.id, deepArray(MAX_DEPTH))).status).toBe(303);
    expect(same((await retrieve(token.id)).output, deepArray(MAX_DEPTH))).toBe(true);
    expect((await dashboard(`/tokens/${token.id}`)).status).toBe(200);
  });

  it('refuses one nested deeper with the same rule as the API, keeping what was typed', async () => {
    const token = await createToken();
    const refused = await postComplete(token.id, deepArray(MAX_DEPTH + 1));
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('Not completed: the payload is nested too deeply to store: at most 5,000 levels');
    expect(refused.text.includes(`${deepArray(MAX_DEPTH + 1)}</textarea>`)).toBe(true);
    expect((await retrieve(token.id)).status).toBe('WAITING');
  });
});
