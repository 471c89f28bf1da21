import { DynamoCodeStore } from '../../functions/adapters/dynamodb/code-store';
import { TOOLS } from '../../functions/operations';
import { startFuzzApi, tableSnapshot, type FuzzApi } from '../support/fuzz-harness';

// Strict input: a field an operation does not take is refused with 422 naming it (a typo must
// never be dropped and the request run without it); dates are real calendar dates; blank
// identifiers name nothing and are refused. Over HTTP here; over MCP in test/api/mcp.test.ts.

let fuzz: FuzzApi;
let token: string;

beforeAll(async () => {
  fuzz = await startFuzzApi();
  token = fuzz.values['token.all']!;
});
afterAll(async () => {
  await fuzz?.stop();
});

/** A valid request of each write route, by tool name: body fields only (path fields are in the path). */
const validWrites = (): Record<string, { path: string; json: Record<string, unknown>; headers?: Record<string, string> }> => {
  const v = fuzz.values;
  return {
    preview_access_code_cost: { path: '/v1/access-codes/preview', json: { plan_id: v['plan.own'], quantity: 5 } },
    bulk_generate_access_codes: {
      path: '/v1/access-codes/bulk-generate',
      json: { plan_id: v['plan.own'], quantity: 1, export_type: 'file', expiry_preset: 'no_expiry' },
      headers: { 'idempotency-key': 'strict-input' },
    },
    create_telegram_link: { path: '/v1/telegram/link', json: { project_id: v['project.own'] } },
    redeem_access_code: { path: '/v1/access-codes/redeem', json: { code: v['code.active'], subscriber_id: 'sub_strict' } },
    expire_batch: { path: `/v1/batches/${v['batch.own']}/expire`, json: { expires_at: '2098-01-01T00:00:00Z' } },
    create_webhook_endpoint: { path: '/v1/webhook-endpoints', json: { project_id: v['project.own'], url: v['webhook.url'], events: ['access_code.*'] } },
    update_webhook_endpoint: { path: `/v1/webhook-endpoints/${v['endpoint.own']}`, json: { description: 'x' } },
    delete_webhook_endpoint: { path: `/v1/webhook-endpoints/${v['endpoint.own']}`, json: {} },
    rotate_webhook_secret: { path: `/v1/webhook-endpoints/${v['endpoint.own']}/rotate-secret`, json: {} },
    retry_webhook_delivery: { path: `/v1/webhook-endpoints/${v['endpoint.own']}/deliveries/${v['delivery.own']}/retry`, json: {} },
    send_test_webhook: { path: `/v1/webhook-endpoints/${v['endpoint.own']}/test`, json: {} },
  };
};

describe('strict input over HTTP', () => {
  test('POST …/expire with {"expire_at": …} (a typo of expires_at) is 422 naming the field, and no code is expired', async () => {
    const codes = new DynamoCodeStore(fuzz.table.db, fuzz.table.tableName);
    const before = await tableSnapshot(fuzz.table);
    const answer = await fuzz.api.call('POST', `/v1/batches/${fuzz.values['batch.own']}/expire`, { token, json: { expire_at: '2099-06-01T00:00:00Z' } });
    expect(answer.status).toBe(422);
    expect(answer.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: expect.any(String),
      details: [{ path: 'expire_at', message: 'expire_at is not a field of this operation (did you mean expires_at?).' }],
    });
    expect(await tableSnapshot(fuzz.table)).toBe(before);
    const batchCodes = (await codes.listCodes(fuzz.values['plan.own']!, { asOf: new Date() }, { limit: 100 })).codes.filter((c) => c.batchId === fuzz.values['batch.own']);
    expect(batchCodes.length).toBe(1);
    expect(batchCodes.map((c) => [c.status, c.expiresAt])).toEqual([['active', '2099-01-01T00:00:00.000Z']]);
  });

  test.each(TOOLS.filter((tool) => tool.http.method !== 'GET').map((tool) => [tool.name]))(
    '%s refuses an unknown body field with 422 naming it, and writes nothing',
    async (name) => {
      const tool = TOOLS.find((t) => t.name === name)!;
      const write = validWrites()[name];
      expect(write).toBeDefined();
      const before = await tableSnapshot(fuzz.table);
      const answer = await fuzz.api.call(tool.http.method, write!.path, { token, json: { ...write!.json, unexpected_field: 1 }, headers: write!.headers ?? {} });
      expect(answer.status).toBe(422);
      expect(answer.body.error.code).toBe('VALIDATION_FAILED');
      expect(answer.body.error.details).toContainEqual({ path: 'unexpected_field', message: 'unexpected_field is not a field of this operation.' });
      expect(await tableSnapshot(fuzz.table)).toBe(before);
    },
  );

  test('a path field sent in the body is refused as misplaced, not taken from there', async () => {
    const answer = await fuzz.api.call('POST', `/v1/batches/${fuzz.values['batch.own']}/expire`, { token, json: { batch_id: 'btc_other', expires_at: '2098-01-01T00:00:00Z' } });
    expect(answer.status).toBe(422);
    expect(answer.body.error.details).toEqual([{ path: 'batch_id', message: 'batch_id is sent in the path, not in the body.' }]);
  });

  test('dates are real calendar dates: 30 February is refused, 29 February of a leap year is not', async () => {
    const path = `/v1/batches/${fuzz.values['batch.own']}/expire`;
    for (const expires_at of ['2026-02-30T00:00:00Z', '2027-02-29T00:00:00Z', '2026-04-31T10:00:00Z', '2026-13-01T00:00:00Z', '2026-05-18T10:00Z', '2026-05-18 10:00:00Z']) {
      const answer = await fuzz.api.call('POST', path, { token, json: { expires_at } });
      expect([expires_at, answer.status, answer.body.error?.details?.[0]?.path]).toEqual([expires_at, 422, 'expires_at']);
    }
    const leap = await fuzz.api.call('POST', path, { token, json: { expires_at: '2096-02-29T00:00:00Z' } });
    expect(leap.status).toBe(202);
    expect(leap.body.data.expires_at).toBe('2096-02-29T00:00:00.000Z');
  });

  test('blank identifiers are refused: white space alone names nothing', async () => {
    const redeem = await fuzz.api.call('POST', '/v1/access-codes/redeem', { token, json: { code: fuzz.values['code.active'], subscriber_id: '   ' } });
    expect(redeem.status).toBe(422);
    expect(redeem.body.error.details).toEqual([{ path: 'subscriber_id', message: 'subscriber_id must not be empty or blank (white space only).' }]);
    const tab = await fuzz.api.call('POST', '/v1/access-codes/redeem', { token, json: { code: '  ', subscriber_id: '\t\u00a0' } });
    expect(tab.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['code', 'subscriber_id']);
    const preview = await fuzz.api.call('POST', '/v1/access-codes/preview', { token, json: { plan_id: '   ', quantity: 5 } });
    expect(preview.status).toBe(422);
    expect(preview.body.error.details[0].path).toBe('plan_id');
    const webhook = await fuzz.api.call('POST', '/v1/webhook-endpoints', { token, json: { project_id: ' ', url: fuzz.values['webhook.url'], events: ['access_code.*'] } });
    expect(webhook.status).toBe(422);
    expect(webhook.body.error.details[0].path).toBe('project_id');
    const listing = await fuzz.api.call('GET', '/v1/webhook-endpoints?project_id=%20%20', { token });
    expect(listing.status).toBe(422);
  });
});
