import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { allotmentKeys } from '../../functions/contracts/table';
import { startTestApi, type TestApi } from '../support/api';
import { FakeClock } from '../support/clock';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { createTeamFixture, type TeamFixture } from '../support/fixtures';

const PATH = '/v1/access-codes/preview';
let table: TestTable;
let api: TestApi;
let team: TeamFixture;
let otherTeam: TeamFixture;
const clock = new FakeClock(new Date('2026-11-21T12:00:00Z'));

beforeAll(async () => {
  table = await createTestTable();
  team = await createTeamFixture(table.accounts, {
    all: ['project-access-code:create', 'project-access-code:view-any', 'project-access-code:redeem'],
    viewer: ['project-access-code:view-any'],
  });
  otherTeam = await createTeamFixture(table.accounts, { all: ['project-access-code:create'] });
  api = await startTestApi(table, clock);
});
afterAll(async () => {
  await api.close();
  await table.drop();
});

/** Posts a preview; `null` sends no token at all. */
const preview = (json: unknown, token: string | null = team.tokens.all!) =>
  api.call('POST', PATH, { ...(token === null ? {} : { token }), json });

describe('POST /v1/access-codes/preview', () => {
  test('answers 50 codes of the demo tier with 10 free, 40 chargeable, "1.20", overage billed', async () => {
    const answer = await preview({ plan_id: team.planId, quantity: 50 });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      data: {
        plan_id: team.planId,
        quantity: 50,
        currency: 'USD',
        preview: { free_remaining: 10, chargeable_quantity: 40, cost: '1.20' },
        will_bill_overage: true,
      },
    });
  });

  test('answers 5 codes with nothing chargeable and no overage', async () => {
    const answer = await preview({ plan_id: team.planId, quantity: 5 });
    expect(answer.body.data.preview).toEqual({ free_remaining: 10, chargeable_quantity: 0, cost: '0.00' });
    expect(answer.body.data.will_bill_overage).toBe(false);
  });

  test('deducts this month’s redemptions, and only this month’s', async () => {
    const fixture = await createTeamFixture(table.accounts, { all: ['project-access-code:create'] });
    // Free units taken this period, as the redemption commit leaves them in the allotment's shards.
    const usage = (period: string, used: number) =>
      table.db.send(new PutCommand({ TableName: table.tableName, Item: { ...allotmentKeys.shard(fixture.projectId, period, 3), initial: used, remaining: 0 } }));
    await usage('2026-11', 7);
    await usage('2026-10', 500);
    const answer = await preview({ plan_id: fixture.planId, quantity: 50 }, fixture.tokens.all);
    expect(answer.body.data.preview).toEqual({ free_remaining: 3, chargeable_quantity: 47, cost: '1.41' });

    clock.set(new Date('2026-12-01T00:00:00Z'));
    const nextMonth = await preview({ plan_id: fixture.planId, quantity: 50 }, fixture.tokens.all);
    clock.set(new Date('2026-11-21T12:00:00Z'));
    expect(nextMonth.body.data.preview.free_remaining).toBe(10);
  });

  test('accepts both ends of the quantity range', async () => {
    expect((await preview({ plan_id: team.planId, quantity: 1 })).status).toBe(200);
    const max = await preview({ plan_id: team.planId, quantity: 10_000 });
    expect(max.body.data.preview).toEqual({ free_remaining: 10, chargeable_quantity: 9990, cost: '299.70' });
  });
});

describe('failure modes, in the documented order and envelope', () => {
  const expectError = (answer: { status: number; body: any }, status: number, code: string) => {
    expect(answer.status).toBe(status);
    expect(answer.body.error.code).toBe(code);
    expect(typeof answer.body.error.message).toBe('string');
    expect(Array.isArray(answer.body.error.details)).toBe(true);
  };

  test('AUTHENTICATION_REQUIRED without a token, with an unknown one, or with a malformed header', async () => {
    expectError(await preview({ plan_id: team.planId, quantity: 5 }, null), 401, 'AUTHENTICATION_REQUIRED');
    expectError(await preview({ plan_id: team.planId, quantity: 5 }, 'mpk_unknown'), 401, 'AUTHENTICATION_REQUIRED');
    const basic = await api.call('POST', PATH, { json: { plan_id: team.planId, quantity: 5 }, headers: { authorization: 'Basic abc' } });
    expectError(basic, 401, 'AUTHENTICATION_REQUIRED');
  });

  test('TOKEN_MISSING_ABILITY for a token without project-access-code:create', async () => {
    const answer = await preview({ plan_id: team.planId, quantity: 5 }, team.tokens.viewer);
    expectError(answer, 403, 'TOKEN_MISSING_ABILITY');
    expect(answer.body.error.message).toContain('project-access-code:create');
  });

  test('RESOURCE_NOT_FOUND for an unknown plan and, identically, for another team’s plan', async () => {
    const unknown = await preview({ plan_id: 'pln_01HXNOTAPLAN', quantity: 5 });
    const foreign = await preview({ plan_id: otherTeam.planId, quantity: 5 });
    expectError(unknown, 404, 'RESOURCE_NOT_FOUND');
    expectError(foreign, 404, 'RESOURCE_NOT_FOUND');
    expect(foreign.body.error.message).toBe(unknown.body.error.message.replace('pln_01HXNOTAPLAN', otherTeam.planId));
  });

  test.each([
    [{ plan_id: 'x', quantity: 0 }, 'quantity'],
    [{ plan_id: 'x', quantity: 10_001 }, 'quantity'],
    [{ plan_id: 'x', quantity: 2.5 }, 'quantity'],
    [{ plan_id: 'x', quantity: '50' }, 'quantity'],
    [{ plan_id: 'x' }, 'quantity'],
    [{ quantity: 5 }, 'plan_id'],
    [{ plan_id: '', quantity: 5 }, 'plan_id'],
    [{ plan_id: 42, quantity: 5 }, 'plan_id'],
  ])('VALIDATION_FAILED naming the field for %j', async (json, field) => {
    const answer = await preview(json);
    expectError(answer, 422, 'VALIDATION_FAILED');
    expect(answer.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
  });

  test('checks who you are before what you may do, and that before what you sent and what exists', async () => {
    expectError(await api.call('POST', PATH, { body: '{not json' }), 401, 'AUTHENTICATION_REQUIRED');
    expectError(await preview({ plan_id: 'pln_missing', quantity: 0 }, team.tokens.viewer), 403, 'TOKEN_MISSING_ABILITY');
    expectError(await preview({ plan_id: 'pln_missing', quantity: 0 }), 422, 'VALIDATION_FAILED');
  });

  const malformed: Array<[string, string | Buffer, Record<string, string>?]> = [
    ['no body', ''],
    ['malformed JSON', '{"plan_id":'],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['a bare number', '42'],
    ['a huge number', '{"plan_id":"pln_x","quantity":1e400}'],
    ['a negative zero', '{"plan_id":"pln_x","quantity":-0.0000001}'],
    ['a nested object', '{"plan_id":{"$ne":null},"quantity":5}'],
    ['a 1 MB body', `{"plan_id":"${'a'.repeat(1024 * 1024)}","quantity":5}`],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { 'content-type': 'application/json' }],
    ['a JSON body without Content-Type', Buffer.from('{"plan_id":"x","quantity":5}'), {}],
    ['a very long plan id', JSON.stringify({ plan_id: 'p'.repeat(5000), quantity: 5 })],
    ['a plan id of unicode', JSON.stringify({ plan_id: '\u0000\ud800', quantity: 5 })],
  ];

  // Sent as JSON (fetch would label a string body text/plain, which is refused with 415 below).
  test.each(malformed)('%s is a clear 4xx and writes nothing', async (_name, body, headers = { 'content-type': 'application/json' }) => {
    const before = await table.scanAll();
    const answer = await api.call('POST', PATH, { token: team.tokens.all, body, headers });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.body.error.code).toMatch(/^(VALIDATION_FAILED|RESOURCE_NOT_FOUND)$/);
    expect(await table.scanAll()).toEqual(before);
  });

  test.each([
    ['a binary content type', Buffer.from('{"plan_id":"x","quantity":5}'), 'application/octet-stream'],
    ['a form body', 'plan_id=x&quantity=5', 'application/x-www-form-urlencoded'],
    ['JSON labelled text/plain', '{"plan_id":"x","quantity":5}', 'text/plain;charset=UTF-8'],
    ['a multipart body', '--b\r\nContent-Disposition: form-data; name="quantity"\r\n\r\n5\r\n--b--', 'multipart/form-data; boundary=b'],
  ])('%s is 415 UNSUPPORTED_MEDIA_TYPE in the envelope and writes nothing', async (_name, body, contentType) => {
    const before = await table.scanAll();
    const answer = await api.call('POST', PATH, { token: team.tokens.all, body, headers: { 'content-type': contentType } });
    expectError(answer, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(answer.body.error.message).toContain(contentType.split(';')[0]);
    expect(await table.scanAll()).toEqual(before);
  });

  test('a non-JSON content type is still checked after who you are and what you may do', async () => {
    const form = { body: 'plan_id=x&quantity=5', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    expectError(await api.call('POST', PATH, form), 401, 'AUTHENTICATION_REQUIRED');
    expectError(await api.call('POST', PATH, { ...form, token: team.tokens.viewer! }), 403, 'TOKEN_MISSING_ABILITY');
  });

  test('application/json with a charset, and +json types, are JSON', async () => {
    for (const contentType of ['application/json; charset=utf-8', 'application/merge-patch+json']) {
      const answer = await api.call('POST', PATH, {
        token: team.tokens.all,
        body: JSON.stringify({ plan_id: team.planId, quantity: 5 }),
        headers: { 'content-type': contentType },
      });
      expect(answer.status).toBe(200);
    }
  });
});

describe('a free tier price (unit price 0)', () => {
  test('previews chargeable codes that cost nothing as no overage', async () => {
    const free = await createTeamFixture(table.accounts, { all: ['project-access-code:create'] }, { freeAllotment: 0, unitPriceMinor: 0, currency: 'USD' });
    const answer = await preview({ plan_id: free.planId, quantity: 50 }, free.tokens.all);
    expect(answer.status).toBe(200);
    expect(answer.body.data.preview).toEqual({ free_remaining: 0, chargeable_quantity: 50, cost: '0.00' });
    expect(answer.body.data.will_bill_overage).toBe(false);
  });

  test('queues a bulk generation without acknowledge_overage, where a priced tier is refused', async () => {
    const free = await createTeamFixture(table.accounts, { all: ['project-access-code:create'] }, { freeAllotment: 0, unitPriceMinor: 0, currency: 'USD' });
    const priced = await createTeamFixture(table.accounts, { all: ['project-access-code:create'] }, { freeAllotment: 0, unitPriceMinor: 1, currency: 'USD' });
    const body = (planId: string) => ({ plan_id: planId, quantity: 5, export_type: 'file', expiry_preset: 'no_expiry' });
    const accepted = await api.call('POST', '/v1/access-codes/bulk-generate', { token: free.tokens.all!, json: body(free.planId) });
    expect(accepted.status).toBe(202);
    expect(accepted.body.data.preview).toEqual({ free_remaining: 0, chargeable_quantity: 5, cost: '0.00' });
    const refused = await api.call('POST', '/v1/access-codes/bulk-generate', { token: priced.tokens.all!, json: body(priced.planId) });
    expect(refused.status).toBe(422);
    expect(refused.body.error.details.map((d: { path: string }) => d.path)).toEqual(['acknowledge_overage']);
  });
});

describe('GET /health', () => {
  test('is 200 without a token', async () => {
    const answer = await api.call('GET', '/health');
    expect(answer).toMatchObject({ status: 200, body: { data: { status: 'ok' } } });
  });
});

describe('routing', () => {
  test('an unknown route is a 404 in the envelope', async () => {
    const answer = await api.call('GET', '/v1/nothing-here');
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('RESOURCE_NOT_FOUND');
  });
});
