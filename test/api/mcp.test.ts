import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { jsonSchemaOf } from '../../functions/operations/json-schema';
import { TOOLS } from '../../functions/operations';
import { tableSnapshot } from '../support/fuzz-harness';
import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';
import { createCreator, startPipelineHarness, type PipelineHarness } from '../support/pipeline';

let fake: FakeTelegram;
let harness: PipelineHarness;
let creator: Awaited<ReturnType<typeof createCreator>>;
const clients: Client[] = [];

/** The official MCP client, connected to the local router's /mcp over real HTTP with a bearer token. */
const connect = async (token: string): Promise<Client> => {
  const client = new Client({ name: 'memberpass-test-agent', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${harness.apiUrl}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  clients.push(client);
  return client;
};

/**
 * The `error` of a tool error result: the envelope as JSON text, and no structured content (that
 * is the success's `{data}`, as the tool's outputSchema says).
 */
const toolError = (result: any): { code: string; message: string; details: Array<{ path: string; message: string }> } => {
  expect(result.isError).toBe(true);
  expect(result.structuredContent).toBeUndefined();
  const envelope = JSON.parse(result.content[0].text);
  expect(Object.keys(envelope)).toEqual(['error']);
  return envelope.error;
};

/** The `data` of a successful tool result, after checking that text and structured content agree. */
const toolData = (result: any): any => {
  expect(result.isError).toBeFalsy();
  expect(JSON.parse(result.content[0].text)).toEqual(result.structuredContent);
  return result.structuredContent.data;
};

beforeAll(async () => {
  fake = await startFakeTelegram();
  harness = await startPipelineHarness(fake);
  creator = await createCreator(harness, {
    all: ['project-access-code:create', 'project-access-code:view-any'],
    viewer: ['project-access-code:view-any'],
  });
});
afterAll(async () => {
  for (const client of clients) await client.close();
  await harness?.stop();
  await fake?.close();
});

describe('the MCP endpoint, with the official MCP client', () => {
  test('tools/list has the four documented tools with their documented required fields and hints', async () => {
    const client = await connect(creator.tokens.all!);
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const name of ['preview_access_code_cost', 'bulk_generate_access_codes', 'get_job_status', 'list_access_codes']) {
      expect(byName.has(name)).toBe(true);
    }
    expect(byName.get('bulk_generate_access_codes')!.inputSchema.required).toEqual(['plan_id', 'quantity', 'export_type', 'expiry_preset']);
    expect(byName.get('preview_access_code_cost')!.inputSchema.required).toEqual(['plan_id', 'quantity']);
    expect(byName.get('bulk_generate_access_codes')!.description).toContain('poll get_job_status until status=completed');
    expect(byName.get('bulk_generate_access_codes')!.annotations).toEqual({ readOnlyHint: false, idempotentHint: false, destructiveHint: false, openWorldHint: true });
    expect(byName.get('list_access_codes')!.annotations).toEqual({ readOnlyHint: true, idempotentHint: true, destructiveHint: false, openWorldHint: false });
    // Irreversible: expiring a batch, deleting an endpoint.
    expect(byName.get('expire_batch')!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(byName.get('delete_webhook_endpoint')!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    // Reaching outside: Telegram messages, calls to webhook URLs.
    for (const name of ['bulk_generate_access_codes', 'create_webhook_endpoint', 'update_webhook_endpoint', 'retry_webhook_delivery', 'send_test_webhook']) {
      expect([name, byName.get(name)!.annotations!.openWorldHint]).toEqual([name, true]);
    }
    for (const name of ['preview_access_code_cost', 'get_job_status', 'list_access_codes', 'redeem_access_code', 'expire_batch', 'delete_webhook_endpoint']) {
      expect([name, byName.get(name)!.annotations!.openWorldHint]).toEqual([name, false]);
    }
    // Every hint is stated, none left to the client's default.
    for (const tool of tools) expect(Object.keys(tool.annotations ?? {}).sort()).toEqual(['destructiveHint', 'idempotentHint', 'openWorldHint', 'readOnlyHint']);
    // The spec's agent guidance, whole.
    const bulk = byName.get('bulk_generate_access_codes')!.description!;
    expect(bulk).toContain('Billing model: generation is free. The Stripe metered overage triggers on redemption');
    expect(bulk).toContain('Delivery is Telegram-only.');
    expect(bulk).toContain('Agents that need programmatic access must also call list_access_codes after the batch completes.');
    // redeem_access_code: every field described and bounded.
    const redeem = byName.get('redeem_access_code')!.inputSchema as any;
    expect(redeem.additionalProperties).toBe(false);
    expect(redeem.properties.code).toMatchObject({ type: 'string', minLength: 1, maxLength: 64, pattern: '\\S', description: expect.any(String) });
    expect(redeem.properties.subscriber_id).toMatchObject({ type: 'string', minLength: 1, maxLength: 128, pattern: '\\S', description: expect.stringContaining('printable') });
    expect(tools.map((tool) => tool.name).sort()).toEqual(TOOLS.map((tool) => tool.name).sort());
  });

  test("each tool's inputSchema and outputSchema are the JSON Schemas of the very valibot schemas its HTTP route validates with and answers", async () => {
    const client = await connect(creator.tokens.all!);
    const { tools } = await client.listTools();
    for (const operation of TOOLS) {
      const tool = tools.find((t) => t.name === operation.name)!;
      expect(tool.inputSchema).toEqual(jsonSchemaOf(operation.input));
      expect(tool.outputSchema).toEqual({ type: 'object', properties: { data: jsonSchemaOf(operation.output) }, required: ['data'] });
    }
  });

  test('an unknown argument is a tool error naming it, the very envelope the HTTP route answers, and nothing is queued', async () => {
    const client = await connect(creator.tokens.all!);
    const args = { plan_id: creator.planId, quantity: 5, export_type: 'file', expiry_preset: 'no_expiry', quantitty: 5, notify: true };
    const before = await tableSnapshot(harness.table);
    const result = await client.callTool({ name: 'bulk_generate_access_codes', arguments: args });
    const error = toolError(result);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual([
      { path: 'quantitty', message: 'quantitty is not a field of this operation (did you mean quantity?).' },
      { path: 'notify', message: 'notify is not a field of this operation.' },
    ]);
    const http = await harness.call('POST', '/v1/access-codes/bulk-generate', { token: creator.tokens.all!, json: args });
    expect(http.status).toBe(422);
    expect(http.body).toEqual(JSON.parse((result.content as any)[0].text));
    expect(await tableSnapshot(harness.table)).toBe(before);
  });

  test('a JSON-RPC batch is refused whole with HTTP 400 and -32600, before any call in it runs: batches do not multiply the rate limit', async () => {
    const call = (id: number) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'bulk_generate_access_codes', arguments: { plan_id: creator.planId, quantity: 1, export_type: 'file', expiry_preset: 'no_expiry' } },
    });
    const before = await tableSnapshot(harness.table);
    const response = await fetch(`${harness.apiUrl}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${creator.tokens.all!}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify([1, 2, 3, 4, 5].map(call)),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as any;
    expect(body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
    expect(body.error.message).toMatch(/batches are not accepted; send one message per request/);
    expect(await tableSnapshot(harness.table)).toBe(before);
  });

  test("the spec's example prompts: preview 200 codes, generate 10 as a file with no expiry, poll get_job_status to completed, list the 10 codes", async () => {
    const client = await connect(creator.tokens.all!);
    const preview = toolData(await client.callTool({ name: 'preview_access_code_cost', arguments: { plan_id: creator.planId, quantity: 200 } }));
    expect(preview).toMatchObject({ plan_id: creator.planId, quantity: 200, will_bill_overage: false });

    const queued = toolData(
      await client.callTool({
        name: 'bulk_generate_access_codes',
        arguments: { plan_id: creator.planId, quantity: 10, export_type: 'file', expiry_preset: 'no_expiry' },
      }),
    );
    expect(queued).toMatchObject({ status: 'queued', plan_id: creator.planId, quantity: 10 });

    let job: any;
    for (let polls = 0; polls < 1000; polls++) {
      job = toolData(await client.callTool({ name: 'get_job_status', arguments: { job_id: queued.job_id } }));
      if (job.status === 'completed' || job.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(job).toMatchObject({ status: 'completed', generated_count: 10, expires_at: null });

    const listed = toolData(await client.callTool({ name: 'list_access_codes', arguments: { plan_id: creator.planId, job_id: queued.job_id } }));
    expect(listed.codes).toHaveLength(10);
    expect(new Set(listed.codes.map((code: any) => code.code)).size).toBe(10);
    expect(listed.next_cursor).toBeNull();
    // The same codes as the CSV the bot delivered.
    const csv = fake.documentsTo(creator.chatId).at(-1)!.content;
    for (const code of listed.codes) expect(csv).toContain(code.code);
  });

  test('every documented failure of bulk_generate_access_codes is a tool error with its code, VALIDATION_FAILED naming each bad field', async () => {
    const client = await connect(creator.tokens.all!);
    const call = (args: Record<string, unknown>) => client.callTool({ name: 'bulk_generate_access_codes', arguments: args }).then(toolError);
    const valid = { plan_id: creator.planId, quantity: 10, export_type: 'file', expiry_preset: 'no_expiry' };

    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...valid, quantity: 0 }, 'quantity'],
      [{ ...valid, quantity: 1001 }, 'quantity'],
      [{ ...valid, export_type: 'email' }, 'export_type'],
      [{ ...valid, export_type: 'messages' }, 'consent'],
      [{ ...valid, expiry_preset: 'custom', custom_expiry_type: 'days' }, 'custom_expiry_amount'],
      [{ ...valid, expiry_preset: 'custom', custom_expiry_amount: 3 }, 'custom_expiry_type'],
      [{ ...valid, expiry_preset: 'forever' }, 'expiry_preset'],
    ];
    for (const [args, field] of cases) {
      const error = await call(args);
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.details.map((detail) => detail.path)).toEqual([field]);
    }
    const many = await call({ plan_id: creator.planId, quantity: 'ten', export_type: 'messages' });
    expect(many.code).toBe('VALIDATION_FAILED');
    expect(many.details.map((detail) => detail.path).sort()).toEqual(['consent', 'expiry_preset', 'quantity']);

    expect((await call({ ...valid, plan_id: 'pln_nope' })).code).toBe('RESOURCE_NOT_FOUND');
    const viewer = await connect(creator.tokens.viewer!);
    const missing = await viewer.callTool({ name: 'bulk_generate_access_codes', arguments: valid }).then(toolError);
    expect(missing.code).toBe('TOKEN_MISSING_ABILITY');
    expect(missing.message).toContain('project-access-code:create');
  });

  test('the failures of preview_access_code_cost, get_job_status and list_access_codes are tool errors with their codes', async () => {
    const client = await connect(creator.tokens.all!);
    const viewer = await connect(creator.tokens.viewer!);
    const preview = (c: Client, args: Record<string, unknown>) => c.callTool({ name: 'preview_access_code_cost', arguments: args }).then(toolError);
    expect(await preview(client, { plan_id: creator.planId, quantity: 10_001 })).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ path: 'quantity' }],
    });
    expect((await preview(client, { plan_id: 'pln_nope', quantity: 5 })).code).toBe('RESOURCE_NOT_FOUND');
    expect((await preview(viewer, { plan_id: creator.planId, quantity: 5 })).code).toBe('TOKEN_MISSING_ABILITY');
    expect((await client.callTool({ name: 'get_job_status', arguments: { job_id: 'mjb_nope' } }).then(toolError)).code).toBe('RESOURCE_NOT_FOUND');
    expect((await client.callTool({ name: 'get_job_status', arguments: {} }).then(toolError)).details).toEqual([
      { path: 'job_id', message: 'job_id is required.' },
    ]);
    expect((await client.callTool({ name: 'list_access_codes', arguments: { plan_id: 'pln_nope' } }).then(toolError)).code).toBe('RESOURCE_NOT_FOUND');
    expect((await client.callTool({ name: 'list_access_codes', arguments: { plan_id: creator.planId, limit: 501 } }).then(toolError)).code).toBe(
      'VALIDATION_FAILED',
    );
  });

  test('a token with only :view-any may list codes but not generate', async () => {
    const viewer = await connect(creator.tokens.viewer!);
    const listed = toolData(await viewer.callTool({ name: 'list_access_codes', arguments: { plan_id: creator.planId } }));
    expect(Array.isArray(listed.codes)).toBe(true);
    const refused = await viewer
      .callTool({ name: 'bulk_generate_access_codes', arguments: { plan_id: creator.planId, quantity: 1, export_type: 'file', expiry_preset: 'no_expiry' } })
      .then(toolError);
    expect(refused.code).toBe('TOKEN_MISSING_ABILITY');
  });

  test('an unknown tool is a JSON-RPC error, not a crash: the same client goes on working', async () => {
    const client = await connect(creator.tokens.all!);
    await expect(client.callTool({ name: 'delete_everything', arguments: {} })).rejects.toThrow(/Unknown tool: delete_everything/);
    expect((await client.listTools()).tools.length).toBe(TOOLS.length);
  });

  // Found by the HTTP fuzz (test/fuzz/http-routes.test.ts): the SDK answered these as -32603, "internal error".
  test('a request whose params do not fit its method is a JSON-RPC invalid params (-32602) naming the field, not an internal error', async () => {
    const post = async (message: unknown) => {
      const response = await fetch(`${harness.apiUrl}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${creator.tokens.all!}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(message),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as any;
    };
    const badName = await post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 123 } });
    expect(badName).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32602 } });
    expect(badName.error.message).toContain('params.name');
    const badArguments = await post({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'get_job_status', arguments: 5 } });
    expect(badArguments).toMatchObject({ id: 8, error: { code: -32602 } });
    expect(badArguments.error.message).toContain('params.arguments');
    const badInitialize = await post({ jsonrpc: '2.0', id: 9, method: 'initialize', params: {} });
    expect(badInitialize).toMatchObject({ id: 9, error: { code: -32602 } });
    expect(badInitialize.error.message).toContain('params.protocolVersion');
    // A call that fits is still answered by the tool.
    const fine = await post({ jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'get_job_status', arguments: { job_id: 'mjb_nope' } } });
    expect(fine.result.isError).toBe(true);
    expect(JSON.parse(fine.result.content[0].text).error.code).toBe('RESOURCE_NOT_FOUND');
  });

  test('without a token, or with an unknown one, /mcp answers HTTP 401 with WWW-Authenticate pointing at its resource metadata (RFC 9728 path form)', async () => {
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '0' } },
    };
    for (const headers of [{}, { authorization: 'Bearer mpk_unknown' }] as Array<Record<string, string>>) {
      const response = await fetch(`${harness.apiUrl}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify(initialize),
      });
      expect(response.status).toBe(401);
      const metadata = `resource_metadata="${harness.apiUrl}/.well-known/oauth-protected-resource/mcp"`;
      expect(response.headers.get('www-authenticate')).toEqual(
        headers.authorization ? expect.stringMatching(/^Bearer realm="memberpass", error="invalid_token", error_description="[^"]+", resource_metadata=/) : `Bearer realm="memberpass", ${metadata}`,
      );
      expect(response.headers.get('www-authenticate')).toContain(metadata);
      const error = ((await response.json()) as any).error;
      expect(error.code).toBe('AUTHENTICATION_REQUIRED');
      // What a client that cannot run OAuth here must do, in words.
      expect(error.message).toMatch(/Send the bearer token you were given/);
    }
    await expect(connect('mpk_unknown')).rejects.toThrow();

    const metadata = await harness.call('GET', '/.well-known/oauth-protected-resource/mcp');
    expect(metadata.status).toBe(200);
    expect(metadata.body).toMatchObject({ resource: `${harness.apiUrl}/mcp`, bearer_methods_supported: ['header'] });
  });

  test('GET and DELETE /mcp answer 405 (a stateless server has no stream and no session)', async () => {
    for (const method of ['GET', 'DELETE']) {
      const answer = await harness.call(method, '/mcp', { token: creator.tokens.all! });
      expect(answer.status).toBe(405);
      expect(answer.body).toEqual({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null });
    }
  });
});
