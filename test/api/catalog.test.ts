import { toJsonSchema } from '@valibot/to-json-schema';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { UnsupportedMediaTypeError, ValidationFailedError } from '../../functions/domain/errors';
import { httpInput } from '../../functions/handlers/http/operation-handler';
import { parseWith } from '../../functions/handlers/http/validation';
import { CATALOG, operationId, TOOLS } from '../../functions/operations';
import { unionOfNeeds } from '../../functions/operations/mcp';
import { API_ROUTES, httpEntryOf } from '../../lib/api-routes';
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

  test('the MCP endpoint needs every need of every tool, each at the widest degree a tool asks', () => {
    const union = unionOfNeeds(TOOLS) as unknown as Record<string, unknown>;
    for (const tool of TOOLS) {
      for (const [key, value] of Object.entries(tool.needs)) {
        if (!value) continue;
        expect(union).toHaveProperty(key);
        if (key === 'table' && value === 'readWrite') expect(union.table).toBe('readWrite');
        if (key === 'webhooks' && value === 'delete') expect(union.webhooks).toBe('delete');
      }
    }
    // Nothing no tool asks for.
    const asked = new Set(TOOLS.flatMap((tool) => Object.entries(tool.needs).filter(([, value]) => value).map(([key]) => key)));
    expect(Object.keys(union).filter((key) => !asked.has(key) && key !== 'table')).toEqual([]);
    // Degrees, on made-up tools: the wider wins whatever the order.
    const tool = (needs: object) => ({ needs }) as unknown as (typeof TOOLS)[number];
    expect(unionOfNeeds([tool({ table: 'readWrite', webhooks: 'delete' }), tool({ table: 'read', webhooks: true, queue: true })])).toEqual({ table: 'readWrite', webhooks: 'delete', queue: true });
    expect(unionOfNeeds([tool({ webhooks: true }), tool({ webhooks: 'delete' }), tool({ someNewNeed: true })])).toEqual({ table: 'read', webhooks: 'delete', someNewNeed: true });
  });

  test.each(TOOLS.map((tool) => [tool.name, tool] as const))('%s binds only fields of its input schema', (_name, tool) => {
    const fields = Object.keys(tool.input.entries);
    for (const field of [...tool.http.pathParams, ...tool.http.queryParams, ...Object.keys(tool.http.headers)]) expect(fields).toContain(field);
    for (const param of tool.http.path.match(/\{(\w+)\}/g) ?? []) expect(tool.http.pathParams).toContain(param.slice(1, -1));
  });

  test.each(TOOLS.map((tool) => [tool.name, tool] as const))('%s has a strict input that JSON Schema can describe, and an output it can describe', (_name, tool) => {
    const schema = toJsonSchema(tool.input, { errorMode: 'ignore' });
    expect(schema).toMatchObject({ type: 'object', additionalProperties: false });
    // The output is declarative: generating its schema without errorMode 'ignore' does not throw.
    expect(toJsonSchema(tool.output)).toMatchObject({ type: 'object' });
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

  test('the route table is the catalog: one route per entry, same method and path, an entry point of its own', () => {
    expect(API_ROUTES.map(routeKey).sort()).toEqual(CATALOG.map((entry) => routeKey(entry.http)).sort());
    expect(API_ROUTES.map((route) => route.id).sort()).toEqual(CATALOG.map((entry) => operationId(entry.name)).sort());
    for (const route of API_ROUTES) expect(route.entry).toBe(httpEntryOf(route.operation));
    expect(new Set(API_ROUTES.map((route) => route.entry)).size).toBe(API_ROUTES.length);
    expect(API_ROUTES.find((route) => route.id === 'BulkGenerateAccessCodes')).toMatchObject({ tableAccess: 'readWrite', queue: true });
  });

  test.each(API_ROUTES.map((route) => [routeKey(route), route] as const))(
    'the local server routes %s to a handler (not its own 404 or 405)',
    async (_key, route) => {
      const path = route.path.replace(/\{\w+\}/g, 'x');
      const answer = await api.call(route.method, path);
      // A handler may answer 405 itself (GET/DELETE /mcp, as stateless MCP servers do); the router's own 405 is METHOD_NOT_ALLOWED.
      if (answer.status === 405) expect(answer.body.error.code).not.toBe('METHOD_NOT_ALLOWED');
      if (answer.status === 404) expect(answer.body.error.message).not.toMatch(/^Route /);
      expect(answer.status).toBeLessThan(500);
    },
  );

  test('serves exactly the same method + path set as the route table', () => {
    // startTestApi serves what the local stack serves; its keys come from the router itself.
    expect(api.routeKeys.slice().sort()).toEqual(API_ROUTES.map(routeKey).sort());
  });
});

describe('the generic HTTP handler gathers one input from where the binding says each field travels', () => {
  const event = (parts: Partial<APIGatewayProxyEventV2>): APIGatewayProxyEventV2 =>
    ({ headers: {}, isBase64Encoded: false, ...parts }) as APIGatewayProxyEventV2;
  const tool = (name: string) => TOOLS.find((t) => t.name === name)!;

  test('path parameters and query strings, with numbers coerced as the schema expects and nothing else', () => {
    const gathered = httpInput(
      tool('list_access_codes'),
      event({ pathParameters: { plan_id: 'pln_1' }, queryStringParameters: { limit: '0010', status: 'active', cursor: '123', other: '1' } }),
    );
    expect(gathered).toEqual({ fields: { plan_id: 'pln_1', limit: 10, status: 'active', cursor: '123' } });
    expect(parseWith(tool('list_access_codes').input, gathered.fields)).toEqual({ plan_id: 'pln_1', limit: 10, status: 'active', cursor: '123' });
  });

  test('a query value that is no number stays a string, for the schema to refuse on its field', () => {
    const gathered = httpInput(tool('list_access_codes'), event({ pathParameters: { plan_id: 'p' }, queryStringParameters: { limit: '1e2' } }));
    expect(gathered.fields.limit).toBe('1e2');
    expect(() => parseWith(tool('list_access_codes').input, gathered.fields)).toThrow(ValidationFailedError);
  });

  test('headers by their header name; a bound field in the body is refused as misplaced, never taken, and errors name the header', () => {
    const gathered = httpInput(
      tool('bulk_generate_access_codes'),
      event({ headers: { 'content-type': 'application/json', 'idempotency-key': ' bad key ' }, body: JSON.stringify({ quantity: 5, idempotency_key: 'from-body' }) }),
    );
    expect(gathered.fields).toEqual({ quantity: 5, idempotency_key: ' bad key ' });
    expect(gathered.misplaced).toEqual([{ path: 'idempotency_key', message: 'idempotency_key is sent as the idempotency-key header, not in the body.' }]);
    try {
      parseWith(tool('bulk_generate_access_codes').input, gathered.fields, { idempotency_key: 'idempotency-key' }, gathered.misplaced);
      throw new Error('expected a ValidationFailedError');
    } catch (error) {
      const details = (error as ValidationFailedError).details;
      expect(details).toContainEqual({ path: 'idempotency-key', message: 'Idempotency-Key must be 1 to 255 visible ASCII characters.' });
      expect(details).toContainEqual({ path: 'idempotency_key', message: 'idempotency_key is sent as the idempotency-key header, not in the body.' });
    }
  });

  test('every key of the body reaches the strict schema: unknown ones are each named (with the likely field), none dropped', () => {
    const gathered = httpInput(
      tool('expire_batch'),
      event({ pathParameters: { batch_id: 'btc_1' }, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ expire_at: '2026-01-01T00:00:00Z', color: 'red' }) }),
    );
    expect(gathered.fields).toEqual({ batch_id: 'btc_1', expire_at: '2026-01-01T00:00:00Z', color: 'red' });
    expect(() => parseWith(tool('expire_batch').input, gathered.fields)).toThrow(ValidationFailedError);
    try {
      parseWith(tool('expire_batch').input, gathered.fields);
    } catch (error) {
      expect((error as ValidationFailedError).details).toEqual([
        { path: 'expire_at', message: 'expire_at is not a field of this operation (did you mean expires_at?).' },
        { path: 'color', message: 'color is not a field of this operation.' },
      ]);
    }
  });

  test('a write without body fields still reads a body it is sent, to refuse what is in it', () => {
    const rotate = tool('rotate_webhook_secret');
    const gathered = httpInput(rotate, event({ pathParameters: { endpoint_id: 'whe_1' }, headers: { 'content-type': 'application/json' }, body: '{"grace_hours":0}' }));
    expect(gathered.fields).toEqual({ endpoint_id: 'whe_1', grace_hours: 0 });
    expect(() => parseWith(rotate.input, gathered.fields)).toThrow(ValidationFailedError);
    expect(httpInput(rotate, event({ pathParameters: { endpoint_id: 'whe_1' } })).fields).toEqual({ endpoint_id: 'whe_1' });
    expect(() => httpInput(rotate, event({ pathParameters: { endpoint_id: 'whe_1' }, headers: { 'content-type': 'application/json' }, body: '[1]' }))).toThrow(ValidationFailedError);
  });

  test('a body labelled as something other than JSON is refused before it is read', () => {
    expect(() =>
      httpInput(tool('preview_access_code_cost'), event({ headers: { 'content-type': 'text/plain' }, body: '{"plan_id":"p","quantity":1}' })),
    ).toThrow(UnsupportedMediaTypeError);
  });
});
