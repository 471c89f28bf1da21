import { toJsonSchema } from '@valibot/to-json-schema';
import { CATALOG, operationId, TOOLS } from '../../functions/operations';
import { API_ROUTES, HTTP_ENTRY } from '../../lib/api-routes';
import { startTestApi, type TestApi } from '../support/api';
import { createTestTable, type TestTable } from '../support/dynamodb';

const routeKey = (route: { method: string; path: string }) => `${route.method} ${route.path}`;

describe('the operation catalog', () => {
  test('has the spec’s tool names, each once, and unique routes', () => {
    const names = CATALOG.map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    expect(TOOLS.map((tool) => tool.name)).toEqual(
      expect.arrayContaining(['preview_access_code_cost', 'bulk_generate_access_codes', 'get_job_status', 'list_access_codes']),
    );
    const keys = CATALOG.map((entry) => routeKey(entry.http));
    expect(new Set(keys).size).toBe(keys.length);
  });

  test.each(TOOLS.map((tool) => [tool.name, tool] as const))('%s binds only fields of its input schema', (_name, tool) => {
    const fields = Object.keys(tool.input.entries);
    for (const field of [...tool.http.pathParams, ...tool.http.queryParams, ...Object.keys(tool.http.headers)]) expect(fields).toContain(field);
    for (const param of tool.http.path.match(/\{(\w+)\}/g) ?? []) expect(tool.http.pathParams).toContain(param.slice(1, -1));
  });

  test.each(TOOLS.map((tool) => [tool.name, tool] as const))('%s has an input that JSON Schema can describe', (_name, tool) => {
    const schema = toJsonSchema(tool.input, { errorMode: 'ignore' });
    expect(schema).toMatchObject({ type: 'object' });
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(Object.keys(tool.input.entries).sort());
  });

  test('bulk_generate_access_codes has the documented required list and field types', () => {
    const tool = TOOLS.find((t) => t.name === 'bulk_generate_access_codes')!;
    const schema = toJsonSchema(tool.input, { errorMode: 'ignore' }) as any;
    expect([...schema.required].sort()).toEqual(['expiry_preset', 'export_type', 'plan_id', 'quantity']);
    expect(schema.properties.quantity).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });
    expect(schema.properties.custom_expiry_amount).toMatchObject({ type: 'integer' });
    expect(schema.properties.consent).toMatchObject({ type: 'boolean' });
    expect(schema.properties.expiry_preset.enum).toEqual(['no_expiry', '1_day', '1_week', '1_month', '1_year', 'custom']);
  });

  test('preview_access_code_cost has the documented required list and range, and the spec’s purpose text', () => {
    const tool = TOOLS.find((t) => t.name === 'preview_access_code_cost')!;
    const schema = toJsonSchema(tool.input, { errorMode: 'ignore' }) as any;
    expect([...schema.required].sort()).toEqual(['plan_id', 'quantity']);
    expect(schema.properties.quantity).toMatchObject({ type: 'integer', minimum: 1, maximum: 10000 });
    expect(tool.description).toMatch(/^Preview the cost of generating access codes before queuing the batch\./);
  });
});

describe('the CDK route table and the local router', () => {
  let table: TestTable;
  let api: TestApi;
  beforeAll(async () => {
    table = await createTestTable();
    api = await startTestApi(table);
  });
  afterAll(async () => {
    await api.close();
    await table.drop();
  });

  test('the route table is the catalog: one route per entry, same method and path, the generic entry point', () => {
    expect(API_ROUTES.map(routeKey).sort()).toEqual(CATALOG.map((entry) => routeKey(entry.http)).sort());
    expect(API_ROUTES.map((route) => route.id).sort()).toEqual(CATALOG.map((entry) => operationId(entry.name)).sort());
    for (const route of API_ROUTES) expect(route.entry).toBe(HTTP_ENTRY);
    expect(API_ROUTES.find((route) => route.id === 'BulkGenerateAccessCodes')).toMatchObject({ tableAccess: 'readWrite', queue: true });
  });

  test.each(API_ROUTES.map((route) => [routeKey(route), route] as const))(
    'the local server routes %s to a handler (not its own 404 or 405)',
    async (_key, route) => {
      const path = route.path.replace(/\{\w+\}/g, 'x');
      const answer = await api.call(route.method, path);
      expect(answer.status).not.toBe(405);
      if (answer.status === 404) expect(answer.body.error.message).not.toMatch(/^Route /);
      expect(answer.status).toBeLessThan(500);
    },
  );

  test('serves exactly the same method + path set as the route table', () => {
    // startTestApi serves what the local stack serves; its keys come from the router itself.
    expect(api.routeKeys.slice().sort()).toEqual(API_ROUTES.map(routeKey).sort());
  });
});
