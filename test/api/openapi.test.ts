import { Validator } from '@seriousme/openapi-schema-validator';
import { API_ROUTES } from '../../lib/api-routes';
import { CATALOG, TOOLS, type CatalogEntry } from '../../functions/operations';
import { TEST_WEBHOOK_SECRET, type TestApi } from '../support/api';
import { responseChecker, startFuzzApi, type FuzzApi, type ResponseChecker } from '../support/fuzz-harness';

let fuzz: FuzzApi;
let api: TestApi;
let document: any;
let checker: ResponseChecker;

beforeAll(async () => {
  fuzz = await startFuzzApi();
  api = fuzz.api;
  const answer = await api.call('GET', '/v1/openapi.json');
  expect(answer.status).toBe(200);
  document = answer.body;
  checker = responseChecker(document);
});
afterAll(async () => {
  await fuzz?.stop();
});

const entry = (name: string): CatalogEntry => CATALOG.find((e) => e.name === name)!;

describe('GET /v1/openapi.json', () => {
  test('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    // The validator can refuse: the same document with one broken operation is invalid.
    const broken = structuredClone(document);
    broken.paths['/health'].get.responses = 'none';
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  test('its paths and methods are exactly the routes of the route table, nothing more, nothing less', () => {
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(API_ROUTES.map((route) => `${route.method} ${route.path}`).sort());
    expect(documented).toEqual([...api.routeKeys].sort());
  });

  test('each tool names its abilities, its bearer security, its parameters and body fields, and its error statuses', () => {
    for (const tool of TOOLS) {
      const operation = document.paths[tool.http.path][tool.http.method.toLowerCase()];
      expect(operation['x-required-abilities']).toEqual([...tool.abilities]);
      for (const ability of tool.abilities) expect(operation.description).toContain(ability);
      expect(operation.security).toEqual([{ bearerAuth: [] }]);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining([String(tool.http.successStatus), '401', '403', '404', '422', '500']));
      const parameters = (operation.parameters ?? []).map((p: any) => `${p.in}:${p.name}`).sort();
      const expected = [
        ...tool.http.pathParams.map((f: string) => `path:${f}`),
        ...tool.http.queryParams.map((f: string) => `query:${f}`),
        ...Object.values(tool.http.headers as Record<string, string>).map((h) => `header:${h}`),
      ].sort();
      expect(parameters).toEqual(expected);
    }
    const bulk = document.paths['/v1/access-codes/bulk-generate'].post;
    const body = bulk.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['plan_id', 'quantity', 'export_type', 'expiry_preset']);
    expect(Object.keys(body.properties)).not.toContain('idempotency_key');
    expect(Object.keys(bulk.responses).sort()).toEqual(['202', '401', '403', '404', '409', '413', '415', '422', '429', '500']);
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const list = document.paths['/v1/plans/{plan_id}/access-codes'].get;
    expect(list.parameters.find((p: any) => p.name === 'limit')).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', maximum: 500, default: 100 } });
  });

  test('the public routes need no token; the MCP endpoint needs the bearer token', () => {
    expect(document.paths['/v1/openapi.json'].get.security).toEqual([]);
    expect(document.paths['/.well-known/oauth-protected-resource'].get.security).toEqual([]);
    expect(document.paths['/mcp'].post.security).toEqual([{ bearerAuth: [] }]);
  });

  // Found by the HTTP fuzz (test/fuzz/http-routes.test.ts): the router answered a 400 no route documented.
  test('every route with a path parameter documents the 400 BAD_REQUEST the router answers to a malformed percent-escape', async () => {
    const answer = await api.call('GET', '/v1/jobs/%E0%A4%A');
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('BAD_REQUEST');
    expect(document.components.responses.Error400.content['application/json'].schema.allOf[1].properties.error.properties.code.enum).toEqual(['BAD_REQUEST']);
    const withPathParams = TOOLS.filter((tool) => tool.http.pathParams.length > 0);
    expect(withPathParams.length).toBeGreaterThan(0);
    for (const tool of TOOLS) {
      const responses = document.paths[tool.http.path][tool.http.method.toLowerCase()].responses;
      expect([tool.name, responses['400']]).toEqual([tool.name, tool.http.pathParams.length ? { $ref: '#/components/responses/Error400' } : undefined]);
    }
  });

  // Found by the HTTP fuzz (test/fuzz/http-routes.test.ts): the route answered a 422 its document did not list.
  test('the Telegram webhook documents the 422 it answers, with the secret, to a body that is not a JSON object', async () => {
    const answer = await api.call('POST', '/telegram/webhook', { body: '[1]', headers: { 'x-telegram-bot-api-secret-token': TEST_WEBHOOK_SECRET } });
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('VALIDATION_FAILED');
    expect(document.paths['/telegram/webhook'].post.responses['422']).toEqual({ $ref: '#/components/responses/Error422' });
  });
});

describe('the success answers, as the document describes them', () => {
  /** One valid request per catalog entry, in an order where each finds what it needs (redeem before expiring, delete last). */
  const successes = (): Array<[string, string, string, Parameters<TestApi['call']>[2]]> => {
    const v = fuzz.values;
    const token = v['token.all']!;
    return [
      ['health', 'GET', '/health', {}],
      ['openapi_document', 'GET', '/v1/openapi.json', {}],
      ['oauth_protected_resource', 'GET', '/.well-known/oauth-protected-resource', {}],
      ['oauth_protected_resource_mcp', 'GET', '/.well-known/oauth-protected-resource/mcp', {}],
      ['preview_access_code_cost', 'POST', '/v1/access-codes/preview', { token, json: { plan_id: v['plan.own'], quantity: 50 } }],
      [
        'bulk_generate_access_codes',
        'POST',
        '/v1/access-codes/bulk-generate',
        { token, json: { plan_id: v['plan.own'], quantity: 1, export_type: 'file', expiry_preset: '1_day' }, headers: { 'idempotency-key': 'openapi-test' } },
      ],
      ['get_job_status', 'GET', `/v1/jobs/${v['job.own']}`, { token }],
      ['list_access_codes', 'GET', `/v1/plans/${v['plan.own']}/access-codes?limit=2`, { token }],
      ['create_telegram_link', 'POST', '/v1/telegram/link', { token, json: { project_id: v['project.own'] } }],
      ['redeem_access_code', 'POST', '/v1/access-codes/redeem', { token, json: { code: v['code.active'], subscriber_id: 'sub_openapi' } }],
      ['get_subscription', 'GET', `/v1/subscriptions/${v['subscription.own']}`, { token }],
      ['expire_batch', 'POST', `/v1/batches/${v['batch.own']}/expire`, { token, json: { expires_at: '2098-02-28T00:00:00Z' } }],
      [
        'create_webhook_endpoint',
        'POST',
        '/v1/webhook-endpoints',
        { token, json: { project_id: v['project.own'], url: v['webhook.url'], events: ['access_code.redeemed'], description: 'openapi' } },
      ],
      ['list_webhook_endpoints', 'GET', `/v1/webhook-endpoints?project_id=${v['project.own']}`, { token }],
      ['get_webhook_endpoint', 'GET', `/v1/webhook-endpoints/${v['endpoint.own']}`, { token }],
      ['update_webhook_endpoint', 'PATCH', `/v1/webhook-endpoints/${v['endpoint.own']}`, { token, json: { enabled: false } }],
      ['rotate_webhook_secret', 'POST', `/v1/webhook-endpoints/${v['endpoint.own']}/rotate-secret`, { token }],
      ['list_webhook_deliveries', 'GET', `/v1/webhook-endpoints/${v['endpoint.own']}/deliveries`, { token }],
      ['retry_webhook_delivery', 'POST', `/v1/webhook-endpoints/${v['endpoint.own']}/deliveries/${v['delivery.own']}/retry`, { token }],
      ['send_test_webhook', 'POST', `/v1/webhook-endpoints/${v['endpoint.own']}/test`, { token }],
      ['delete_webhook_endpoint', 'DELETE', `/v1/webhook-endpoints/${v['endpoint.own']}`, { token }],
      [
        'telegram_webhook',
        'POST',
        '/telegram/webhook',
        { json: { update_id: 1, message: { message_id: 1, date: 0, chat: { id: 5, type: 'private' }, text: 'hello' } }, headers: { 'x-telegram-bot-api-secret-token': TEST_WEBHOOK_SECRET } },
      ],
      [
        'mcp',
        'POST',
        '/mcp',
        {
          token,
          json: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'openapi-test', version: '0' } } },
          headers: { accept: 'application/json, text/event-stream' },
        },
      ],
      ['mcp_stream', 'GET', '/mcp', { token }],
      ['mcp_session', 'DELETE', '/mcp', { token }],
    ];
  };

  test('every tool documents its success as {data} with the properties of its output schema, and each route its own', () => {
    for (const tool of TOOLS) {
      const success = document.paths[tool.http.path][tool.http.method.toLowerCase()].responses[String(tool.http.successStatus)];
      const data = success.content['application/json'].schema.properties.data;
      expect([tool.name, data.type]).toEqual([tool.name, 'object']);
      expect([tool.name, Object.keys(data.properties).length > 0, data.required.length > 0]).toEqual([tool.name, true, true]);
    }
    const preview = document.paths['/v1/access-codes/preview'].post.responses['200'].content['application/json'].schema.properties.data;
    expect(preview.required).toEqual(expect.arrayContaining(['plan_id', 'quantity', 'preview', 'will_bill_overage']));
    expect(preview.properties.preview.required).toEqual(['free_remaining', 'chargeable_quantity', 'cost']);
    const bulk = document.paths['/v1/access-codes/bulk-generate'].post.responses['202'].content['application/json'].schema.properties.data;
    expect(bulk.required).toEqual(['job_id', 'status', 'enqueued_at', 'plan_id', 'quantity', 'preview']);
    const redeem = document.paths['/v1/access-codes/redeem'].post.responses['200'].content['application/json'].schema.properties.data;
    expect(Object.keys(redeem.properties.billing.properties)).toEqual(['period', 'free_allotment', 'overage', 'unit_price', 'currency']);
  });

  test('every route answers a valid request with a body that fits its documented schema; the same checker refuses a broken schema', async () => {
    const covered = new Set<string>();
    for (const [name, method, path, options] of successes()) {
      const answer = await api.call(method, path, options);
      expect([name, answer.status < 300 || name.startsWith('mcp_')]).toEqual([name, true]);
      expect([name, checker.problem(entry(name), answer.status, answer.body)]).toEqual([name, undefined]);
      covered.add(name);
    }
    expect([...covered].sort()).toEqual(CATALOG.map((e) => e.name).sort());

    // The check can fail: a document whose job schema promises another status, or one more field, refuses the same answer.
    const job = await api.call('GET', `/v1/jobs/${fuzz.values['job.own']}`, { token: fuzz.values['token.all'] });
    const broken = structuredClone(document);
    const data = broken.paths['/v1/jobs/{job_id}'].get.responses['200'].content['application/json'].schema.properties.data;
    data.properties.status.enum = ['archived'];
    expect(responseChecker(broken).problem(entry('get_job_status'), 200, job.body)).toMatch(/status.*must be equal to one of the allowed values/);
    const missing = structuredClone(document);
    const missingData = missing.paths['/v1/jobs/{job_id}'].get.responses['200'].content['application/json'].schema.properties.data;
    missingData.properties.archived_at = { type: 'string', format: 'date-time' };
    missingData.required.push('archived_at');
    expect(responseChecker(missing).problem(entry('get_job_status'), 200, job.body)).toMatch(/must have required property 'archived_at'/);
  });

  test('servers names the base URL the document was fetched from', () => {
    expect(document.servers).toEqual([{ url: api.url, description: expect.any(String) }]);
  });

  test('every REST 401 carries a Bearer challenge (RFC 6750): realm and resource metadata, invalid_token only when a token was sent', async () => {
    const metadata = `${api.url}/.well-known/oauth-protected-resource`;
    for (const tool of TOOLS) {
      const path = tool.http.path.replace(/\{\w+\}/g, 'x');
      const none = await api.call(tool.http.method, path);
      expect([tool.name, none.status, none.text.length > 0]).toEqual([tool.name, 401, true]);
      expect(checker.problem(tool, 401, none.body)).toBeUndefined();
      const unknown = await api.call(tool.http.method, path, { token: 'mpk_unknown' });
      expect(unknown.status).toBe(401);
    }
    const none = await fetch(`${api.url}/v1/jobs/x`);
    expect(none.headers.get('www-authenticate')).toBe(`Bearer realm="memberpass", resource_metadata="${metadata}"`);
    expect(((await none.json()) as any).error.message).toMatch(/Send the bearer token you were given.*no OAuth authorization server/);
    const unknown = await fetch(`${api.url}/v1/jobs/x`, { headers: { authorization: 'Bearer mpk_unknown' } });
    expect(unknown.headers.get('www-authenticate')).toMatch(/^Bearer realm="memberpass", error="invalid_token", error_description="[^"]+", resource_metadata="/);
    // Every tool route, not just one: the header comes from the one error mapping.
    for (const tool of TOOLS) {
      const response = await fetch(api.url + tool.http.path.replace(/\{\w+\}/g, 'x'), { method: tool.http.method });
      expect([tool.name, response.headers.get('www-authenticate')]).toEqual([tool.name, `Bearer realm="memberpass", resource_metadata="${metadata}"`]);
    }
    const telegram = await fetch(`${api.url}/telegram/webhook`, { method: 'POST', body: '{}' });
    expect(telegram.status).toBe(401);
    expect(telegram.headers.get('www-authenticate')).toBe('X-Telegram-Bot-Api-Secret-Token realm="telegram-webhook"');
    expect(document.components.responses.Error401.headers['WWW-Authenticate']).toBeDefined();
  });

  test('the protected resource metadata is served at the root and at RFC 9728’s path form of /mcp, each naming its own resource, no authorization server', async () => {
    const root = await api.call('GET', '/.well-known/oauth-protected-resource');
    const mcp = await api.call('GET', '/.well-known/oauth-protected-resource/mcp');
    expect(root.body).toMatchObject({ resource: api.url, bearer_methods_supported: ['header'] });
    expect(mcp.body).toMatchObject({ resource: `${api.url}/mcp`, bearer_methods_supported: ['header'] });
    expect(root.body.authorization_servers).toBeUndefined();
    expect(mcp.body.authorization_servers).toBeUndefined();
    const unauthorized = await fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toBe(`Bearer realm="memberpass", resource_metadata="${api.url}/.well-known/oauth-protected-resource/mcp"`);
  });

  test("the MCP endpoint's transport refusals are documented with their bodies: 400 (a batch), 406, 415, and GET/DELETE's 405", async () => {
    const post = (headers: Record<string, string>, body: string) =>
      api.call('POST', '/mcp', { token: fuzz.values['token.all'], headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body });
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const cases: Array<[number, Awaited<ReturnType<typeof post>>]> = [
      [400, await post({}, `[${ping}]`)],
      [406, await post({ accept: 'text/html' }, ping)],
      [415, await post({ 'content-type': 'text/plain' }, ping)],
    ];
    for (const [status, answer] of cases) {
      expect(answer.status).toBe(status);
      expect([status, checker.problem(entry('mcp'), status, answer.body)]).toEqual([status, undefined]);
    }
    for (const name of ['mcp_stream', 'mcp_session']) {
      expect(Object.keys(document.paths['/mcp'][entry(name).http.method.toLowerCase()].responses)).toEqual(expect.arrayContaining(['405']));
    }
    expect(Object.keys(document.paths['/mcp'].post.responses).sort()).toEqual(['200', '202', '400', '401', '406', '413', '415', '429', '500']);
  });
});
