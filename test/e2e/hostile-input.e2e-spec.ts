/**
 * Hostile input, property-based (fast-check): thousands of generated requests against every
 * route. Each generated bad request carries at least one definite defect (wrong type, missing
 * or extra field, malformed or non-UTF-8 body, deep nesting, oversize, bad cursor, odd
 * duration, bad credential…), mixed with SQL and script strings in the other fields. For every
 * one: a 4xx answer with a JSON `{ "error" }` body within the time limit, and nothing stored.
 * Valid requests full of hostile strings must succeed and store the strings verbatim. Both
 * services must still work afterwards.
 *
 * HOSTILE_RUNS sets the requests per property (default 300: about 3,000 requests in all);
 * `npm run test:hostile` runs ten times as many.
 */
import fc from 'fast-check';
import { Client } from 'pg';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

const RUNS = Number(process.env.HOSTILE_RUNS ?? 300);
const REQUEST_TIMEOUT_MS = 10_000;
const TOKENS = '/api/v1/waitpoints/tokens';
const KiB = 1024;
const MiB = 1024 * KiB;

let system: RunningSystem;
let db: Client;
/** Waiting tokens the hostile requests aim at (ids that exist, with their valid callback URLs). */
let targets: { id: string; url: string }[];

beforeAll(async () => {
  system = await startSystem();
  db = new Client({ connectionString: system.databaseUrl });
  await db.connect();
  targets = [];
  for (let i = 0; i < 5; i++) {
    const response = await fetch(`${system.tokensUrl}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
      body: JSON.stringify({ timeout: '1h' }),
    });
    targets.push((await response.json()) as { id: string; url: string });
  }
});

afterAll(async () => {
  await db?.end();
  await system?.stop();
});

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

interface HostileRequest {
  /** What the generator aimed at, for the failure report. */
  label: string;
  method: string;
  /** Path and query, sent as is (already encoded where it must be). */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

const short = (text: string, max = 160) => (text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text);

/** Counterexamples print as one short line, not megabytes of body. */
function describe_(request: HostileRequest): string {
  const body = request.body === undefined ? '' : ` body=${short(JSON.stringify(request.body.toString()))}`;
  return `${request.label}: ${request.method} ${short(request.path)}${body}`;
}

async function send(request: HostileRequest): Promise<Answer> {
  const response = await fetch(`${system.baseUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text() };
}

async function storedCounts(): Promise<string> {
  const { rows } = await db.query('SELECT (SELECT count(*) FROM es_events) AS events, (SELECT count(*) FROM waitpoint_tokens) AS tokens');
  return `${rows[0].events} events, ${rows[0].tokens} tokens`;
}

/** The property of every bad request: a 4xx JSON `{error}`, quickly, and no trace in the database. */
async function expectRejected(request: HostileRequest): Promise<void> {
  const before = await storedCounts();
  const answer = await send(request);
  const context = `${describe_(request)} → ${answer.status} ${short(answer.text, 300)}`;
  if (answer.status < 400 || answer.status > 499) throw new Error(`expected a 4xx; ${context}`);
  if (!answer.contentType.startsWith('application/json')) throw new Error(`expected a JSON answer; ${context}`);
  const body = JSON.parse(answer.text);
  if (typeof body?.error !== 'string' || Object.keys(body).length !== 1 || body.error.length === 0) {
    throw new Error(`expected exactly { error: "<message>" }; ${context}`);
  }
  const after = await storedCounts();
  if (after !== before) throw new Error(`a rejected request stored something (${before} → ${after}); ${context}`);
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

/** Strings that have broken other systems: SQL, scripts, templates, control and odd Unicode. */
const NASTY_STRINGS = [
  "'; DROP TABLE es_events; --",
  "' OR '1'='1",
  '" OR 1=1 --',
  '1; SELECT pg_sleep(10)',
  "') UNION SELECT * FROM waitpoint_tokens --",
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  'javascript:alert(1)',
  '${jndi:ldap://127.0.0.1/x}',
  '{{7*7}}',
  '../../../../etc/passwd',
  '%00',
  '\u0000',
  'a\u0000b',
  '\r\nX-Injected: yes',
  '\uD800',
  '\uFEFF',
  '\u202Ereversed',
  '🙂'.repeat(50),
  'NaN',
  '-1',
  '1e309',
  '__proto__',
  'constructor',
  '{"$gt":""}',
  '*',
  '>',
  'a.b.c',
  ' ',
];

const nastyString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(...NASTY_STRINGS).map((s) => s.repeat(Math.ceil(10_000 / s.length)).slice(0, 10_000)) },
);

/** Any JSON value, including hostile strings as keys and values. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  nastyString,
  fc.dictionary(nastyString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

/** Durations and dates that are no valid timeout or TTL. */
const oddDuration = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '0s',
    '0m',
    '-1s',
    '-5m',
    '1.5h',
    '1e3s',
    '1 h',
    '1h 30m',
    'P1D',
    'PT1H',
    '1y',
    '1ms',
    '10',
    '1H',
    'h',
    'forever',
    'Infinity',
    'NaN',
    '999999999999999999999d',
    '2000-01-01T00:00:00Z',
    '1970-01-01',
    // Valid durations too long to store as a date (past 100 years; 100000000d overflowed the date).
    '36501d',
    '5300w',
    '1000000d',
    '100000000d',
    '9007199254740d',
    '9999-99-99',
    '2999-13-45T25:61:61Z',
    'tomorrow',
    '1h\u0000',
    '1h;DROP TABLE es_events',
  ),
  nastyString.filter((s) => !/^(\d+(w|d|hr|h|m|s))+$/.test(s.trim())),
);

const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);

/** A create field with a definite defect. */
const badCreateField: fc.Arbitrary<[string, unknown]> = fc.oneof(
  // '键' × 683 is 2049 bytes: within the character limit, past what the key's index can hold.
  fc.tuple(fc.constant('idempotencyKey'), fc.oneof(notAString, fc.constantFrom('', 'k'.repeat(2049), '键'.repeat(683), '😀'.repeat(600)))),
  fc.tuple(fc.constant('idempotencyKeyTTL'), fc.oneof(notAString, oddDuration)),
  fc.tuple(fc.constant('timeout'), fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.object({ maxDepth: 1 }), oddDuration)),
  fc.tuple(
    fc.constant('tags'),
    fc.oneof(
      fc.constant('t'.repeat(10_000)),
      fc.constant(['ok', 't'.repeat(129)]),
      fc.array(fc.string({ maxLength: 5 }), { minLength: 11, maxLength: 30 }),
      fc.array(notAString, { minLength: 1, maxLength: 3 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.object({ maxDepth: 1 }),
    ),
  ),
  // Extra fields, hostile names included.
  fc
    .tuple(
      fc.oneof(
        fc.constantFrom('__proto__', 'constructor', 'prototype', 'data', 'output', 'environment', 'id', 'status'),
        fc.string({ minLength: 1, maxLength: 20 }),
      ),
      anyJson,
    )
    .filter(([key]) => !['idempotencyKey', 'idempotencyKeyTTL', 'timeout', 'tags'].includes(key)),
);

/** Valid create fields full of hostile (but allowed) strings, to mix in. */
const fineCreateFields = fc.record(
  {
    idempotencyKey: nastyString.filter((s) => s.length > 0 && Buffer.byteLength(s, 'utf8') <= 2048),
    tags: fc.array(
      nastyString.filter((s) => s.length <= 128),
      { maxLength: 3 },
    ),
    timeout: fc.constantFrom('1h', '30m', '1h30m'),
  },
  { requiredKeys: [] },
);

/** A JSON text whose nesting is `depth` deep. */
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** Raw bodies that are not one JSON object, whatever a route expects. */
const notAJsonObject: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc
    .jsonValue()
    .filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))
    .map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '',
    ' ',
    '{',
    '}',
    '{"a":',
    '{"a":1,}',
    "{'a':1}",
    '{a:1}',
    'NaN',
    'undefined',
    '[1,2',
    '{"a":1}{"b":2}',
    '\u0000',
    'null',
    'true',
    '0',
    '""',
  ),
  fc.string({ maxLength: 30 }).filter((s) => {
    try {
      const v = JSON.parse(s);
      return v === null || typeof v !== 'object' || Array.isArray(v);
    } catch {
      return true;
    }
  }),
);

/** A JSON object whose bytes are not valid UTF-8. */
const invalidUtf8Body = (fields: string[]) =>
  fc
    .tuple(
      fc.constantFrom(...fields),
      fc.constantFrom([0xff], [0xfe, 0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]),
    )
    .map(([field, bytes]) => Buffer.concat([Buffer.from(`{"${field}":"ab`), Buffer.from(bytes), Buffer.from('cd"}')]));

const json = (value: unknown) => JSON.stringify(value);
const keyHeaders = (extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${TEST_KEYS.dev}`,
  'content-type': 'application/json',
  ...extra,
});
const oddContentType = fc.constantFrom(
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  '*/*',
);

const createRequests: fc.Arbitrary<HostileRequest> = fc.oneof(
  fc.tuple(fineCreateFields, fc.array(badCreateField, { minLength: 1, maxLength: 3 }), oddContentType).map(([fine, bad, contentType]) => ({
    label: 'create with a bad field',
    method: 'POST',
    path: TOKENS,
    headers: keyHeaders({ 'content-type': contentType }),
    body: `{${[...Object.entries(fine), ...bad].map(([k, v]) => `${json(k)}:${json(v) ?? 'null'}`).join(',')}}`,
  })),
  notAJsonObject.map((body) => ({
    label: 'create with a body that is not a JSON object',
    method: 'POST',
    path: TOKENS,
    headers: keyHeaders(),
    body,
  })),
  invalidUtf8Body(['idempotencyKey', 'tags', 'timeout']).map((body) => ({
    label: 'create with invalid UTF-8',
    method: 'POST',
    path: TOKENS,
    headers: keyHeaders(),
    body,
  })),
  fc.integer({ min: 50, max: 2_400 }).map((depth) => ({
    label: 'create with deep nesting',
    method: 'POST',
    path: TOKENS,
    headers: keyHeaders(),
    body: depth % 2 ? `{"tags":${deepArray(depth)}}` : `{"timeout":${deepObject(depth)}}`,
  })),
  fc.integer({ min: 10 * KiB + 1, max: 200 * KiB }).map((size) => ({
    label: 'create over 10 KiB',
    method: 'POST',
    path: TOKENS,
    headers: keyHeaders(),
    body: json({ tags: ['x'.repeat(size)] }),
  })),
  fc.constantFrom('gzip', 'deflate', 'br', 'x-unknown').map((encoding) => ({
    label: 'create with a content encoding',
    method: 'POST',
    path: TOKENS,
    headers: keyHeaders({ 'content-encoding': encoding }),
    body: '{}',
  })),
);

/** Query parameters of the list route with a definite defect. */
const badListParam: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    fc.constant('page[size]'),
    fc.oneof(
      fc.constantFrom('0', '-1', '-100', '101', '1000', '99999999999999999999', '1.5', '1e2', '0x10', '', ' ', 'abc', 'Infinity', '25abc'),
      fc.integer({ max: 0 }).map(String),
      fc.integer({ min: 101 }).map(String),
      nastyString.filter((s) => !/^\s*\d{1,4}\s*$/.test(s) || Number(s) < 1 || Number(s) > 100),
    ),
  ),
  fc.tuple(
    fc.constantFrom('page[after]', 'page[before]'),
    fc
      .oneof(
        nastyString,
        fc.constantFrom(
          '',
          'waitpoint_',
          'waitpoint_123',
          `waitpoint_${'z'.repeat(27)}`,
          '0'.repeat(25),
          'WAITPOINT_' + '0'.repeat(26),
          `${'0'.repeat(26)}' OR '1'='1`,
        ),
        fc.string({ maxLength: 30 }),
      )
      .filter((s) => !/^(waitpoint_)?[0-9a-z]{26}$/.test(s.trim())),
  ),
  fc.tuple(
    fc.constant('filter[status]'),
    fc.oneof(nastyString, fc.constantFrom('', ',', 'DONE', 'WAITING,DONE', 'completed;DROP')).filter(
      (s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
          .some((x) => !['WAITING', 'COMPLETED', 'TIMED_OUT', 'CANCELLED'].includes(x.toUpperCase())) ||
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean).length === 0,
    ),
  ),
  fc.tuple(fc.constant('filter[tags]'), fc.constantFrom('t'.repeat(10_000), `ok,${'t'.repeat(129)}`, ',', ' , ')),
  fc.tuple(fc.constant('filter[idempotencyKey]'), fc.constantFrom('', 'k'.repeat(2049))),
  fc.tuple(fc.constant('filter[createdAt][period]'), oddDuration),
  fc.tuple(
    fc.constantFrom('filter[createdAt][from]', 'filter[createdAt][to]'),
    fc.oneof(
      fc
        .oneof(nastyString, fc.constantFrom('yesterday', '2024-13-01', '99999999999999999', '-1', '1e12', '', 'NaN'))
        .filter((s) => !/^\d{1,15}$/.test(s.trim()) && !/^\d{4}-\d{2}-\d{2}/.test(s.trim())),
      // Well-formed, but no date PostgreSQL stores: year 0, past year 9999.
      fc.constantFrom('0000-01-01', '0000-06-15T12:00:00Z', '999999999999999', '253402300800000'),
    ),
  ),
  fc.tuple(
    fc.constantFrom('page[number]', 'filter[unknown]', 'filter[status][in]', 'page[size][]', 'filter[tags][0]'),
    fc.string({ maxLength: 5 }),
  ),
);

/** Hostile but acceptable filters, to mix in. */
const fineListParam: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    fc.constant('filter[tags]'),
    nastyString.filter((s) => s.split(',').some((t) => t.trim()) && s.split(',').every((t) => t.trim().length <= 128)),
  ),
  fc.tuple(
    fc.constant('filter[idempotencyKey]'),
    nastyString.filter((s) => s.length >= 1 && s.length <= 2048),
  ),
  fc.tuple(
    nastyString.filter((s) => !s.startsWith('page[') && !s.startsWith('filter[')),
    nastyString,
  ),
);

const listRequests: fc.Arbitrary<HostileRequest> = fc.oneof(
  fc
    .tuple(fc.array(badListParam, { minLength: 1, maxLength: 3 }), fc.array(fineListParam, { maxLength: 2 }))
    // A repeated list parameter is joined ("a" + "," → "a,"), which could repair the defect.
    .filter(([bad, fine]) => !fine.some(([name]) => bad.some(([badName]) => badName === name)))
    .map(([bad, fine]) => ({
      label: 'list with a bad parameter',
      method: 'GET',
      path: `${TOKENS}?${new URLSearchParams([...fine, ...bad])}`,
      headers: keyHeaders(),
    })),
  // A defect amid broken percent-encoding.
  fc.tuple(badListParam, fc.constantFrom('%', '%E0%A4%A', '%FF', '%C0%AF', '%00', '%u0041')).map(([[name, value], junk]) => ({
    label: 'list with raw, badly encoded parameters',
    method: 'GET',
    path: `${TOKENS}?q=${junk}&${segment(name)}=${segment(value)}&${junk}=${junk}`,
    headers: keyHeaders(),
  })),
  // A single-valued parameter given twice, each value fine on its own.
  fc
    .constantFrom(
      ['page[size]', '10'],
      ['page[after]', `waitpoint_${'0'.repeat(26)}`],
      ['filter[idempotencyKey]', 'k'],
      ['filter[createdAt][from]', '1700000000000'],
    )
    .map(([name, value]) => ({
      label: 'list with a single-valued parameter given twice',
      method: 'GET',
      path: `${TOKENS}?${new URLSearchParams([
        [name, value],
        [name, value],
      ])}`,
      headers: keyHeaders(),
    })),
);

/** Path segments that are no token id of ours. */
const badId = fc
  .oneof(
    nastyString,
    fc.constantFrom(
      '',
      '.',
      '..',
      'waitpoint_',
      `waitpoint_${'0'.repeat(25)}`,
      `waitpoint_${'0'.repeat(27)}`,
      '%',
      '%2e%2e',
      'a'.repeat(10_000),
      'waitpoint_01JD0000000000000000000000',
    ),
    fc.string({ maxLength: 40 }),
  )
  .filter((s) => s.length > 0 && !/^(waitpoint_)?[0-9a-z]{26}$/.test(s) && !/^\.{1,2}$/.test(s));
// ("." and ".." are left out: the client resolves them away before sending.)
/** Well-formed ids that belong to no token. */
const unknownId = fc.stringMatching(/^[0-9a-z]{26}$/).map((id) => (id.length % 2 ? `waitpoint_${id}` : id));
/** Percent-encoded; an unpaired surrogate (which URLs cannot carry) becomes U+FFFD, as URLSearchParams does. */
const segment = (s: string) => encodeURIComponent((s as unknown as { toWellFormed(): string }).toWellFormed());
const targetId = () => fc.integer({ min: 0, max: 4 }).map((i) => targets[i].id);

const retrieveRequests: fc.Arbitrary<HostileRequest> = fc.oneof(badId, unknownId).map((id) => ({
  label: 'retrieve a bad or unknown id',
  method: 'GET',
  path: `${TOKENS}/${segment(id)}`,
  headers: keyHeaders(),
}));

const completeRequests: fc.Arbitrary<HostileRequest> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        targetId(),
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 20 }).filter((k) => k !== 'data'),
          anyJson,
          { minKeys: 1, maxKeys: 3 },
        ),
        fc.option(anyJson),
      )
      .map(([id, extra, data]) => ({
        label: 'complete with an extra field',
        method: 'POST',
        path: `${TOKENS}/${id}/complete`,
        headers: keyHeaders(),
        body: json(data === null ? extra : { data, ...extra }),
      })),
  },
  {
    weight: 5,
    arbitrary: fc.tuple(targetId(), notAJsonObject).map(([id, body]) => ({
      label: 'complete with a body that is not a JSON object',
      method: 'POST',
      path: `${TOKENS}/${id}/complete`,
      headers: keyHeaders(),
      body,
    })),
  },
  {
    weight: 5,
    arbitrary: fc.tuple(targetId(), invalidUtf8Body(['data'])).map(([id, body]) => ({
      label: 'complete with invalid UTF-8',
      method: 'POST',
      path: `${TOKENS}/${id}/complete`,
      headers: keyHeaders(),
      body,
    })),
  },
  {
    weight: 5,
    arbitrary: fc.tuple(fc.oneof(badId, unknownId), anyJson).map(([id, data]) => ({
      label: 'complete a bad or unknown id',
      method: 'POST',
      path: `${TOKENS}/${segment(id)}/complete`,
      headers: keyHeaders(),
      body: json({ data }),
    })),
  },
  // The two heavy cases (hundreds of KiB to 3 MiB each) are drawn less often.
  {
    weight: 1,
    arbitrary: fc.tuple(targetId(), fc.constantFrom(100_000, 500_000)).map(([id, depth]) => ({
      label: 'complete with data nested too deeply to store',
      method: 'POST',
      path: `${TOKENS}/${id}/complete`,
      headers: keyHeaders(),
      body: `{"data":${deepArray(depth)}}`,
    })),
  },
  {
    weight: 1,
    arbitrary: targetId().map((id) => ({
      label: 'complete over 3 MiB',
      method: 'POST',
      path: `${TOKENS}/${id}/complete`,
      headers: keyHeaders(),
      body: json({ data: 'x'.repeat(3 * MiB) }),
    })),
  },
);

const cancelRequests: fc.Arbitrary<HostileRequest> = fc.oneof(
  fc
    .tuple(
      targetId(),
      fc.oneof(
        fc.record({
          reason: fc.oneof(
            notAString.filter((v) => v !== undefined),
            fc.constant('r'.repeat(1001)),
            fc.constant('r'.repeat(10_000)),
          ),
        }),
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 20 }).filter((k) => k !== 'reason'),
          anyJson,
          { minKeys: 1, maxKeys: 3 },
        ),
      ),
    )
    .map(([id, body]) => ({
      label: 'cancel with a bad body',
      method: 'POST',
      path: `${TOKENS}/${id}/cancel`,
      headers: keyHeaders(),
      body: json(body),
    })),
  fc
    .tuple(
      targetId(),
      notAJsonObject.filter((b) => String(b).trim() !== ''),
    )
    .map(([id, body]) => ({
      label: 'cancel with a body that is not a JSON object',
      method: 'POST',
      path: `${TOKENS}/${id}/cancel`,
      headers: keyHeaders(),
      body,
    })),
  fc.oneof(badId, unknownId).map((id) => ({
    label: 'cancel a bad or unknown id',
    method: 'POST',
    path: `${TOKENS}/${segment(id)}/cancel`,
    headers: keyHeaders(),
    body: '{}',
  })),
);

const callbackRequests: fc.Arbitrary<HostileRequest> = fc
  .tuple(
    fc.oneof(targetId(), badId, unknownId),
    fc.oneof(
      fc.stringMatching(/^[0-9a-f]{64}$/),
      fc.stringMatching(/^[0-9a-f]{1,63}$/),
      fc.stringMatching(/^[0-9a-f]{65,128}$/),
      nastyString.filter((s) => s.length > 0),
    ),
    fc.oneof(anyJson.map(json), notAJsonObject, invalidUtf8Body(['x'])),
  )
  .map(([id, hash, body]) => ({
    label: 'callback with a wrong hash',
    method: 'POST',
    path: `${TOKENS}/${segment(id)}/callback/${segment(hash)}`,
    headers: { 'content-type': 'application/json' },
    body,
  }));

/** Any route, with a missing or broken credential. */
const unauthenticatedRequests: fc.Arbitrary<HostileRequest> = fc
  .tuple(
    fc.constantFrom(['POST', ''], ['GET', ''], ['GET', '/ID'], ['POST', '/ID/complete'], ['POST', '/ID/cancel']),
    fc.oneof(
      fc.constant(undefined),
      nastyString.filter((s) => /^[\t\x20-\x7e\x80-\xff]*$/.test(s)).map((s) => `Bearer ${s.trim() || 'x'}`),
      fc.constantFrom(
        'Bearer',
        'Basic dXNlcjpwYXNz',
        `bearer  ${TEST_KEYS.prod}x`,
        `Bearer ${TEST_KEYS.dev.slice(1)}`,
        'Bearer a.b.c',
        'Bearer eyJhbGciOiJub25lIn0.e30.',
        `Bearer ${'k'.repeat(8000)}`,
      ),
    ),
    fc.option(anyJson),
  )
  .map(([[method, suffix], authorization, body]) => ({
    label: 'a route without a valid credential',
    method,
    path: `${TOKENS}${suffix.replace('ID', targets[0].id)}`,
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: method === 'POST' ? json({ data: body }) : undefined,
  }));

const unknownRoutes: fc.Arbitrary<HostileRequest> = fc
  .tuple(
    fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
    fc.oneof(
      fc.constantFrom(
        `${TOKENS}/ID/complete`,
        `${TOKENS}/ID/cancel`,
        `${TOKENS}/ID/callback`,
        `${TOKENS}/ID/unknown`,
        '/api/v1/waitpoints',
        '/api/v2/waitpoints/tokens',
        '/api',
        '/',
      ),
      fc.array(nastyString.map(segment), { minLength: 1, maxLength: 4 }).map((parts) => `/api/v1/${parts.join('/')}`),
    ),
  )
  .filter(([method, path]) => !(method === 'POST' && /\/(complete|cancel)$/.test(path)))
  .map(([method, path]) => ({
    label: 'an unknown route or method',
    method,
    path: path.replace('ID', targets[1].id),
    headers: keyHeaders(),
    body: method === 'GET' ? undefined : '{}',
  }));

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

const printable = (request: HostileRequest) => Object.assign(request, { [fc.toStringMethod]: () => describe_(request) });
const check = (arbitrary: fc.Arbitrary<HostileRequest>) =>
  fc.assert(fc.asyncProperty(arbitrary.map(printable), expectRejected), {
    numRuns: RUNS,
    endOnFailure: true,
    interruptAfterTimeLimit: 240_000,
  });
const LIMIT = Math.max(120_000, RUNS * 1_000);

describe(`hostile requests (${RUNS} per route) are answered 4xx { error }, store nothing, and never hang`, () => {
  it('create', () => check(createRequests), LIMIT);
  it('list', () => check(listRequests), LIMIT);
  it('retrieve', () => check(retrieveRequests), LIMIT);
  it('complete', () => check(completeRequests), LIMIT);
  it('cancel', () => check(cancelRequests), LIMIT);
  it('callback', () => check(callbackRequests), LIMIT);
  it('any route without a valid credential', () => check(unauthenticatedRequests), LIMIT);
  it('unknown routes and methods', () => check(unknownRoutes), LIMIT);

  it('the tokens aimed at are all still waiting, untouched', async () => {
    const { rows } = await db.query(`SELECT status, version FROM waitpoint_tokens WHERE id = ANY($1)`, [
      targets.map((t) => t.id.replace(/^waitpoint_/, '')),
    ]);
    expect(rows).toEqual(targets.map(() => ({ status: 'WAITING', version: 1 })));
  });
});

describe('valid requests full of hostile strings', () => {
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${system.baseUrl}${path}`, {
      method,
      headers: keyHeaders(),
      body: body === undefined ? undefined : json(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  let unique = 0;
  const wellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed() && !s.includes('\u0000');

  it(
    'create stores tags and idempotency keys verbatim (or refuses text PostgreSQL cannot hold, with 400)',
    async () => {
      await fc.assert(
        fc.asyncProperty(fineCreateFields, async (fields) => {
          // A fresh key per run: a repeated one would (rightly) return the earlier token.
          if (fields.idempotencyKey !== undefined) fields.idempotencyKey = `${fields.idempotencyKey.slice(0, 2000)}#${++unique}`;
          const created = await api('POST', TOKENS, fields);
          const strings = [...(fields.tags ?? []), ...(fields.idempotencyKey === undefined ? [] : [fields.idempotencyKey])];
          if (!strings.every(wellFormed)) {
            expect(created.status).toBe(400);
            return;
          }
          expect(created.status).toBe(200);
          const retrieved = await api('GET', `${TOKENS}/${created.body.id}`);
          expect(retrieved.status).toBe(200);
          expect([...retrieved.body.tags].sort()).toEqual([...(fields.tags ?? [])].sort());
          if (fields.idempotencyKey !== undefined) expect(retrieved.body.idempotencyKey).toBe(fields.idempotencyKey);
        }),
        { numRuns: Math.ceil(RUNS / 3) },
      );
    },
    LIMIT,
  );

  it(
    'list answers 200 to hostile filters (400 or 431 when they break a rule), and finds nothing it should not',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fineListParam, { minLength: 1, maxLength: 3 }), async (params) => {
          const listed = await api('GET', `${TOKENS}?${new URLSearchParams(params)}`);
          expect([200, 400, 431]).toContain(listed.status);
          if (listed.status !== 200) expect(listed.body).toEqual({ error: expect.any(String) });
          else expect(Array.isArray(listed.body.data)).toBe(true);
        }),
        { numRuns: Math.ceil(RUNS / 3) },
      );
    },
    LIMIT,
  );

  it(
    'complete stores any JSON output verbatim',
    async () => {
      await fc.assert(
        fc.asyncProperty(anyJson, async (data) => {
          const created = await api('POST', TOKENS, { timeout: '1h' });
          expect((await api('POST', `${TOKENS}/${created.body.id}/complete`, { data })).status).toBe(200);
          const retrieved = await api('GET', `${TOKENS}/${created.body.id}`);
          expect(retrieved.body.output).toBe(json(data));
        }),
        { numRuns: Math.ceil(RUNS / 3) },
      );
    },
    LIMIT,
  );
});

describe('afterwards', () => {
  it('both services still work: create, complete and retrieve', async () => {
    const headers = keyHeaders();
    const created = await fetch(system.tokensUrl, { method: 'POST', headers, body: '{}' });
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    expect((await fetch(`${system.tokensUrl}/${id}/complete`, { method: 'POST', headers, body: '{"data":"still up"}' })).status).toBe(200);
    const retrieved = (await (await fetch(`${system.tokensUrl}/${id}`, { headers })).json()) as { status: string; output: string };
    expect(retrieved).toMatchObject({ status: 'COMPLETED', output: '"still up"' });
  });
});
