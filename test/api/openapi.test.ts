import { Validator } from '@seriousme/openapi-schema-validator';
import { API_ROUTES } from '../../lib/api-routes';
import { TOOLS } from '../../functions/operations';
import { startTestApi, TEST_WEBHOOK_SECRET, type TestApi } from '../support/api';
import { createTestTable, type TestTable } from '../support/dynamodb';

let table: TestTable;
let api: TestApi;
let document: any;

beforeAll(async () => {
  table = await createTestTable();
  api = await startTestApi(table);
  const answer = await api.call('GET', '/v1/openapi.json');
  expect(answer.status).toBe(200);
  document = answer.body;
});
afterAll(async () => {
  await api?.close();
  await table?.drop();
});

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
    expect(Object.keys(bulk.responses).sort()).toEqual(['202', '401', '403', '404', '409', '415', '422', '500']);
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
