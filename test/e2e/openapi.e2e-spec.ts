import { LIST_QUERY_PARAMETERS } from '../../apps/gateway/src/tokens/list-tokens/list-tokens.request.dto';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

type Json = any;

/**
 * The published OpenAPI document must describe what the routes really do: every route is in
 * it, and real responses (success and error) have exactly the documented shape.
 */
describe('OpenAPI description at /docs', () => {
  let system: RunningSystem;
  let document: Json;

  beforeAll(async () => {
    system = await startSystem();
    const response = await fetch(`${system.baseUrl}/docs-json`);
    expect(response.status).toBe(200);
    document = await response.json();
  });

  afterAll(async () => {
    await system?.stop();
  });

  const TOKENS = '/api/v1/waitpoints/tokens';
  const auth = { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' };

  /** Checks `value` against an OpenAPI schema; undocumented properties count as a mismatch. */
  function mismatches(value: unknown, schema: Json, path = '$'): string[] {
    if (schema.$ref) return mismatches(value, document.components.schemas[schema.$ref.split('/').pop()], path);
    if (schema.allOf) return schema.allOf.flatMap((part: Json) => mismatches(value, part, path));
    if (schema.oneOf) {
      return schema.oneOf.some((option: Json) => mismatches(value, option, path).length === 0) ? [] : [`${path}: matches no oneOf option`];
    }
    if (schema.enum && !schema.enum.includes(value)) return [`${path}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`];
    switch (schema.type) {
      case undefined:
        return [];
      case 'object': {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not an object`];
        const properties = schema.properties ?? {};
        const problems = (schema.required ?? [])
          .filter((key: string) => !(key in (value as object)))
          .map((key: string) => `${path}.${key}: required but absent`);
        for (const [key, item] of Object.entries(value as object)) {
          if (!properties[key]) problems.push(`${path}.${key}: not documented`);
          else problems.push(...mismatches(item, properties[key], `${path}.${key}`));
        }
        return problems;
      }
      case 'array':
        return Array.isArray(value)
          ? value.flatMap((item, i) => mismatches(item, schema.items, `${path}[${i}]`))
          : [`${path}: not an array`];
      case 'integer':
        return Number.isInteger(value) ? [] : [`${path}: not an integer`];
      default:
        if (typeof value !== schema.type) return [`${path}: ${typeof value}, documented ${schema.type}`];
        if (schema.pattern && !new RegExp(schema.pattern).test(value as string)) return [`${path}: does not match ${schema.pattern}`];
        return [];
    }
  }

  async function expectDocumented(method: string, route: string, response: Response): Promise<Json> {
    const operation = document.paths[route]?.[method.toLowerCase()];
    expect(operation).toBeDefined();
    const documented = operation.responses[String(response.status)];
    if (!documented) throw new Error(`${method} ${route} answered ${response.status}, which is not documented`);
    const body = await response.json();
    expect({ status: response.status, problems: mismatches(body, documented.content['application/json'].schema) }).toEqual({
      status: response.status,
      problems: [],
    });
    return body;
  }

  it('lists every route of the token API, and only those', () => {
    const routes = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations as object).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        `POST ${TOKENS}`,
        `GET ${TOKENS}`,
        `GET ${TOKENS}/{id}`,
        `POST ${TOKENS}/{id}/complete`,
        `POST ${TOKENS}/{id}/cancel`,
        `POST ${TOKENS}/{id}/reject`,
        `POST ${TOKENS}/{id}/extend`,
        `POST ${TOKENS}/{id}/heartbeat`,
        `POST ${TOKENS}/{id}/callback/{hash}`,
        `GET ${TOKENS}/{id}/events`,
        `GET ${TOKENS}/{id}/approval/{hash}`,
        `POST ${TOKENS}/{id}/approval/{hash}`,
      ].sort(),
    );
  });

  it('declares the two auth schemes and which route takes which', () => {
    expect(document.components.securitySchemes).toEqual({
      secretKey: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      publicAccessToken: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
    });
    expect(document.paths[TOKENS].post.security).toEqual([{ secretKey: [] }]);
    expect(document.paths[`${TOKENS}/{id}/complete`].post.security).toEqual([{ secretKey: [] }, { publicAccessToken: [] }]);
    expect(document.paths[`${TOKENS}/{id}/callback/{hash}`].post.security).toBeUndefined();
  });

  it('documents exactly the list filters the route accepts', () => {
    const names = document.paths[TOKENS].get.parameters.map((p: Json) => p.name);
    expect(names.sort()).toEqual([...LIST_QUERY_PARAMETERS].sort());
  });

  it('documents the create body the route validates', async () => {
    const schema = document.components.schemas.CreateTokenBody;
    expect(Object.keys(schema.properties).sort()).toEqual([
      'approval',
      'heartbeatTimeout',
      'idempotencyKey',
      'idempotencyKeyTTL',
      'tags',
      'timeout',
    ]);
    const approval = document.components.schemas.ApprovalRequestBody;
    expect(JSON.stringify(schema.properties.approval)).toContain('#/components/schemas/ApprovalRequestBody');
    expect(approval.required).toEqual(['title']);
    expect(Object.keys(approval.properties).sort()).toEqual(['approveLabel', 'commentRequired', 'description', 'rejectLabel', 'title']);
    const rejected = await fetch(`${system.tokensUrl}`, { method: 'POST', headers: auth, body: '{"output":1}' });
    expect(rejected.status).toBe(400);
    await expectDocumented('POST', TOKENS, rejected);
  });

  it('documents the approvalUrl of a create with approval, and the approval page routes as HTML', async () => {
    const created = await fetch(system.tokensUrl, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ approval: { title: 'Docs?' } }),
    });
    const { approvalUrl } = await expectDocumented('POST', TOKENS, created);
    expect(approvalUrl).toMatch(/\/approval\/[0-9a-f]{64}$/);
    const page = await fetch(approvalUrl);
    expect(page.status).toBe(200);
    const operation = document.paths[`${TOKENS}/{id}/approval/{hash}`];
    expect(operation.get.responses['200'].content).toHaveProperty(['text/html']);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(operation.post.requestBody.content).toHaveProperty(['application/x-www-form-urlencoded']);
    expect(Object.keys(operation.post.responses).sort()).toEqual(['200', '400', '403', '404', '429']);
  });

  it('matches real responses of every route, successes and errors', async () => {
    const created = await fetch(system.tokensUrl, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ timeout: '1h', tags: ['docs'], idempotencyKey: `docs-${Date.now()}` }),
    });
    const { id, url } = await expectDocumented('POST', TOKENS, created);
    expect(Object.keys(document.paths[TOKENS].post.responses['200'].headers)).toEqual(['x-trigger-jwt', 'x-trigger-jwt-claims']);
    expect(created.headers.get('x-trigger-jwt')).toBeTruthy();

    await expectDocumented('GET', TOKENS, await fetch(`${system.tokensUrl}?filter[tags]=docs`, { headers: auth }));
    await expectDocumented('GET', `${TOKENS}/{id}`, await fetch(`${system.tokensUrl}/${id}`, { headers: auth }));
    await expectDocumented(
      'POST',
      `${TOKENS}/{id}/complete`,
      await fetch(`${system.tokensUrl}/${id}/complete`, { method: 'POST', headers: auth, body: '{"data":{"ok":true}}' }),
    );
    await expectDocumented('GET', `${TOKENS}/{id}`, await fetch(`${system.tokensUrl}/${id}`, { headers: auth }));
    await expectDocumented(
      'POST',
      `${TOKENS}/{id}/cancel`,
      await fetch(`${system.tokensUrl}/${id}/cancel`, { method: 'POST', headers: auth }),
    );
    await expectDocumented('POST', `${TOKENS}/{id}/callback/{hash}`, await fetch(url, { method: 'POST', body: '{}' }));

    const other: Json = await (await fetch(system.tokensUrl, { method: 'POST', headers: auth, body: '{}' })).json();
    await expectDocumented(
      'POST',
      `${TOKENS}/{id}/cancel`,
      await fetch(`${system.tokensUrl}/${other.id}/cancel`, { method: 'POST', headers: auth, body: '{"reason":"docs"}' }),
    );
    await expectDocumented('GET', TOKENS, await fetch(`${system.tokensUrl}?page[size]=0`, { headers: auth }));
    await expectDocumented('GET', TOKENS, await fetch(system.tokensUrl));
    await expectDocumented(
      'GET',
      `${TOKENS}/{id}`,
      await fetch(`${system.tokensUrl}/waitpoint_00000000000000000000000000`, { headers: auth }),
    );
    await expectDocumented('POST', `${TOKENS}/{id}/callback/{hash}`, await fetch(`${url}00`, { method: 'POST', body: '{}' }));
    await expectDocumented(
      'POST',
      TOKENS,
      await fetch(system.tokensUrl, { method: 'POST', headers: auth, body: JSON.stringify({ tags: ['x'.repeat(11 * 1024)] }) }),
    );

    // The long-running-token routes (Waitpoints extensions).
    const post = (path: string, body?: string) => fetch(`${system.tokensUrl}${path}`, { method: 'POST', headers: auth, body });
    const long: Json = await (await post('', '{"timeout":"1h","heartbeatTimeout":"5m"}')).json();
    await expectDocumented('GET', `${TOKENS}/{id}`, await fetch(`${system.tokensUrl}/${long.id}`, { headers: auth }));
    await expectDocumented('POST', `${TOKENS}/{id}/heartbeat`, await post(`/${long.id}/heartbeat`));
    await expectDocumented('POST', `${TOKENS}/{id}/extend`, await post(`/${long.id}/extend`, '{"timeout":"2h"}'));
    await expectDocumented('POST', `${TOKENS}/{id}/extend`, await post(`/${long.id}/extend`, '{"timeout":"never"}'));
    await expectDocumented('POST', `${TOKENS}/{id}/reject`, await post(`/${long.id}/reject`, '{"error":{"message":"docs","code":"DOCS"}}'));
    await expectDocumented('POST', `${TOKENS}/{id}/reject`, await post(`/${long.id}/reject`, '{"error":{}}'));
    await expectDocumented('POST', `${TOKENS}/{id}/extend`, await post(`/${long.id}/extend`, '{"timeout":"2h"}'));
    await expectDocumented('POST', `${TOKENS}/{id}/heartbeat`, await post(`/${long.id}/heartbeat`));
    await expectDocumented('GET', `${TOKENS}/{id}`, await fetch(`${system.tokensUrl}/${long.id}`, { headers: auth }));
  });

  it('serves Swagger UI at /docs', async () => {
    const page = await fetch(`${system.baseUrl}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('swagger');
  });
});
