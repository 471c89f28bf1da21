import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';
import type { ApiAnswer } from '../support/api';
import {
  ALL_ABILITIES,
  bulkGenerate,
  createCreator,
  listAllCodes,
  startPipelineHarness,
  waitForJob,
  type PipelineHarness,
} from '../support/pipeline';

let fake: FakeTelegram;
let harness: PipelineHarness;
let team: Awaited<ReturnType<typeof createCreator>>;
let otherTeam: Awaited<ReturnType<typeof createCreator>>;
let noAllotment: Awaited<ReturnType<typeof createCreator>>;
let unlinked: Awaited<ReturnType<typeof createCreator>>;
let jobId: string;

beforeAll(async () => {
  fake = await startFakeTelegram();
  harness = await startPipelineHarness(fake);
  team = await createCreator(harness, {
    all: ALL_ABILITIES,
    viewer: ['project-access-code:view-any'],
    maker: ['project-access-code:create'],
    redeemer: ['project-access-code:redeem'],
  });
  otherTeam = await createCreator(harness);
  noAllotment = await createCreator(harness, { all: ALL_ABILITIES }, { freeAllotment: 0, unitPriceMinor: 3, currency: 'USD' });
  unlinked = await createCreator(harness);
  await harness.table.accounts.setTelegramChat(unlinked.projectId, null);

  const answer = await bulkGenerate(harness, team.token, { plan_id: team.planId, quantity: 3, export_type: 'file', expiry_preset: 'no_expiry' });
  jobId = answer.body.data.job_id;
  expect((await waitForJob(harness, team.token, jobId)).status).toBe('completed');
  await harness.deps.queue.drain(30_000);
  await harness.deliveries.drain(30_000);
});
afterAll(async () => {
  await harness?.stop();
  await fake?.close();
});

const expectError = (answer: ApiAnswer, status: number, code: string, fields: string[] = []) => {
  expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
  expect(typeof answer.body.error.message).toBe('string');
  const paths = (answer.body.error.details as Array<{ path: string }>).map((detail) => detail.path);
  for (const field of fields) expect(paths).toContain(field);
};

/** Asserts that a refused call wrote nothing to the table, queued nothing and sent nothing to Telegram. */
const refusedWritingNothing = async (call: () => Promise<ApiAnswer>): Promise<ApiAnswer> => {
  const snapshot = async () => (await harness.table.scanAll()).map((item) => JSON.stringify(item)).sort();
  const before = await snapshot();
  const sent = harness.deps.queue.counters.sent;
  const telegramCalls = fake.calls.length;
  const answer = await call();
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(await snapshot()).toEqual(before);
  expect(harness.deps.queue.counters.sent).toBe(sent);
  expect(fake.calls.length).toBe(telegramCalls);
  return answer;
};

const valid = () => ({ plan_id: team.planId, quantity: 5, export_type: 'file', expiry_preset: 'no_expiry' });

describe('POST /v1/access-codes/bulk-generate refuses bad input with VALIDATION_FAILED naming the field, writing nothing', () => {
  test.each([
    ['quantity 0', { quantity: 0 }, ['quantity']],
    ['quantity 1001', { quantity: 1001 }, ['quantity']],
    ['quantity 1.5', { quantity: 1.5 }, ['quantity']],
    ['quantity "5"', { quantity: '5' }, ['quantity']],
    ['no quantity', { quantity: undefined }, ['quantity']],
    ['no plan_id', { plan_id: undefined }, ['plan_id']],
    ['export_type email', { export_type: 'email' }, ['export_type']],
    ['expiry_preset 2_days', { expiry_preset: '2_days' }, ['expiry_preset']],
    ['custom expiry without amount and type', { expiry_preset: 'custom' }, ['custom_expiry_amount', 'custom_expiry_type']],
    ['custom expiry without type', { expiry_preset: 'custom', custom_expiry_amount: 3 }, ['custom_expiry_type']],
    ['custom expiry of 0 days', { expiry_preset: 'custom', custom_expiry_amount: 0, custom_expiry_type: 'days' }, ['custom_expiry_amount']],
    ['custom expiry of 3651 days', { expiry_preset: 'custom', custom_expiry_amount: 3651, custom_expiry_type: 'days' }, ['custom_expiry_amount']],
    ['custom expiry of 11 years', { expiry_preset: 'custom', custom_expiry_amount: 11, custom_expiry_type: 'years' }, ['custom_expiry_amount']],
    ['custom expiry of 2.5 weeks', { expiry_preset: 'custom', custom_expiry_amount: 2.5, custom_expiry_type: 'weeks' }, ['custom_expiry_amount']],
    ['custom expiry in fortnights', { expiry_preset: 'custom', custom_expiry_amount: 2, custom_expiry_type: 'fortnights' }, ['custom_expiry_type']],
    ['messages without consent', { export_type: 'messages' }, ['consent']],
    ['messages with consent false', { export_type: 'messages', consent: false }, ['consent']],
    ['consent "true" as a string', { export_type: 'messages', consent: 'true' }, ['consent']],
  ])('%s', async (_name, change, fields) => {
    const answer = await refusedWritingNothing(() => bulkGenerate(harness, team.token, { ...valid(), ...change }));
    expectError(answer, 422, 'VALIDATION_FAILED', fields);
  });

  test('chargeable codes without acknowledge_overage, naming acknowledge_overage', async () => {
    const body = { ...valid(), plan_id: noAllotment.planId };
    expectError(await refusedWritingNothing(() => bulkGenerate(harness, noAllotment.token, body)), 422, 'VALIDATION_FAILED', ['acknowledge_overage']);
    const refusedFalse = await refusedWritingNothing(() => bulkGenerate(harness, noAllotment.token, { ...body, acknowledge_overage: false }));
    expectError(refusedFalse, 422, 'VALIDATION_FAILED', ['acknowledge_overage']);
  });

  test('a creator whose Telegram chat is not linked', async () => {
    const answer = await refusedWritingNothing(() => bulkGenerate(harness, unlinked.token, { ...valid(), plan_id: unlinked.planId }));
    expectError(answer, 422, 'VALIDATION_FAILED');
    expect(answer.body.error.details.length).toBeGreaterThan(0);
    expect(JSON.stringify(answer.body.error)).toMatch(/telegram/i);
  });

  test('the same requests, put right, are accepted (so the refusals above are about the named field)', async () => {
    // Accepted jobs need not run here: the API's enqueue is dropped, so they just stay queued.
    harness.apiQueueFault = new Error('not processed in this test');
    try {
      const accepted = [
        await bulkGenerate(harness, noAllotment.token, { ...valid(), plan_id: noAllotment.planId, acknowledge_overage: true }),
        await bulkGenerate(harness, team.token, {
          ...valid(),
          quantity: 1000,
          expiry_preset: 'custom',
          custom_expiry_amount: 10,
          custom_expiry_type: 'years',
          export_type: 'messages',
          consent: true,
        }),
        await bulkGenerate(harness, team.token, { ...valid(), quantity: 1, expiry_preset: 'custom', custom_expiry_amount: 3650, custom_expiry_type: 'days' }),
      ];
      expect(accepted.map((answer) => answer.status)).toEqual([202, 202, 202]);
      expect(accepted[0]!.body.data.preview).toEqual({ free_remaining: 0, chargeable_quantity: 5, cost: '0.15' });
    } finally {
      harness.apiQueueFault = undefined;
    }
  });
});

describe('POST /v1/access-codes/bulk-generate: who you are, what you may do, what exists', () => {
  test('401 AUTHENTICATION_REQUIRED without a token or with an unknown one, before looking at the body', async () => {
    expectError(await refusedWritingNothing(() => harness.call('POST', '/v1/access-codes/bulk-generate', { json: valid() })), 401, 'AUTHENTICATION_REQUIRED');
    expectError(await refusedWritingNothing(() => bulkGenerate(harness, 'mpk_unknown', valid())), 401, 'AUTHENTICATION_REQUIRED');
    expectError(await refusedWritingNothing(() => harness.call('POST', '/v1/access-codes/bulk-generate', { json: { quantity: 0 } })), 401, 'AUTHENTICATION_REQUIRED');
  });

  test('403 TOKEN_MISSING_ABILITY for a token without project-access-code:create, before looking at the body', async () => {
    for (const token of [team.tokens.viewer!, team.tokens.redeemer!]) {
      const answer = await refusedWritingNothing(() => bulkGenerate(harness, token, valid()));
      expectError(answer, 403, 'TOKEN_MISSING_ABILITY');
      expect(answer.body.error.message).toContain('project-access-code:create');
      expectError(await refusedWritingNothing(() => bulkGenerate(harness, token, { quantity: 0 })), 403, 'TOKEN_MISSING_ABILITY');
    }
  });

  test('404 RESOURCE_NOT_FOUND for another team’s plan, exactly as for an unknown plan; bad input is reported first', async () => {
    const foreign = await refusedWritingNothing(() => bulkGenerate(harness, team.token, { ...valid(), plan_id: otherTeam.planId }));
    const unknown = await refusedWritingNothing(() => bulkGenerate(harness, team.token, { ...valid(), plan_id: 'pln_01HXNOTAPLAN' }));
    expectError(foreign, 404, 'RESOURCE_NOT_FOUND');
    expectError(unknown, 404, 'RESOURCE_NOT_FOUND');
    expect(foreign.body.error.message).toBe(unknown.body.error.message.replace('pln_01HXNOTAPLAN', otherTeam.planId));
    const badAndForeign = await refusedWritingNothing(() => bulkGenerate(harness, team.token, { ...valid(), plan_id: otherTeam.planId, quantity: 0 }));
    expectError(badAndForeign, 422, 'VALIDATION_FAILED', ['quantity']);
  });

  test('a maker token (create only) is enough to queue a job', async () => {
    const answer = await bulkGenerate(harness, team.tokens.maker!, { ...valid(), quantity: 1 });
    expect(answer.status).toBe(202);
    expect((await waitForJob(harness, team.tokens.maker!, answer.body.data.job_id)).status).toBe('completed');
    await harness.deps.queue.drain(30_000);
    await harness.deliveries.drain(30_000);
  });
});

describe('GET /v1/jobs/{job_id}', () => {
  test('answers a job of the caller’s team to a token with create or with view-any', async () => {
    for (const token of [team.tokens.maker!, team.tokens.viewer!, team.tokens.all!]) {
      const answer = await harness.call('GET', `/v1/jobs/${jobId}`, { token });
      expect(answer.status).toBe(200);
      expect(answer.body.data).toMatchObject({ job_id: jobId, status: 'completed', plan_id: team.planId, quantity: 3 });
    }
  });

  test('another team’s job is 404, exactly like an unknown job', async () => {
    const foreign = await harness.call('GET', `/v1/jobs/${jobId}`, { token: otherTeam.token });
    const unknown = await harness.call('GET', '/v1/jobs/mjb_01HXNOTAJOB', { token: otherTeam.token });
    expectError(foreign, 404, 'RESOURCE_NOT_FOUND');
    expectError(unknown, 404, 'RESOURCE_NOT_FOUND');
    expect(foreign.body.error.message).toBe(unknown.body.error.message.replace('mjb_01HXNOTAJOB', jobId));
  });

  test('401 without a token, 403 with a token that may only redeem', async () => {
    expectError(await harness.call('GET', `/v1/jobs/${jobId}`), 401, 'AUTHENTICATION_REQUIRED');
    expectError(await harness.call('GET', `/v1/jobs/${jobId}`, { token: team.tokens.redeemer! }), 403, 'TOKEN_MISSING_ABILITY');
  });
});

describe('GET /v1/plans/{plan_id}/access-codes', () => {
  const list = (query: string, token = team.tokens.viewer!, planId = team.planId) =>
    harness.call('GET', `/v1/plans/${planId}/access-codes${query}`, { token });

  test('works with view-any alone; create alone is 403; no token is 401', async () => {
    const listed = await listAllCodes(harness, team.tokens.viewer!, team.planId, { job_id: jobId });
    expect(listed.codes).toHaveLength(3);
    expectError(await list('', team.tokens.maker!), 403, 'TOKEN_MISSING_ABILITY');
    expectError(await harness.call('GET', `/v1/plans/${team.planId}/access-codes`), 401, 'AUTHENTICATION_REQUIRED');
  });

  test('another team’s plan is 404', async () => {
    expectError(await list('', team.tokens.viewer!, otherTeam.planId), 404, 'RESOURCE_NOT_FOUND');
  });

  test.each([
    ['?limit=0', 'limit'],
    ['?limit=501', 'limit'],
    ['?limit=abc', 'limit'],
    ['?limit=-1', 'limit'],
    ['?limit=2.5', 'limit'],
    ['?status=used', 'status'],
    ['?cursor=garbage', 'cursor'],
  ])('%s is 422 naming %s', async (query, field) => {
    expectError(await list(query), 422, 'VALIDATION_FAILED', [field]);
  });

  test('a cursor is refused on a plan or filter it was not issued for, and when tampered with', async () => {
    const first = await list(`?job_id=${jobId}&limit=1`);
    expect(first.status).toBe(200);
    const cursor: string = first.body.data.next_cursor;
    expect(cursor).toEqual(expect.any(String));
    expect((await list(`?job_id=${jobId}&cursor=${encodeURIComponent(cursor)}&limit=1`)).status).toBe(200);
    expectError(await list(`?cursor=${encodeURIComponent(cursor)}&limit=1`), 422, 'VALIDATION_FAILED', ['cursor']);
    expectError(await list(`?cursor=${encodeURIComponent(cursor)}`, otherTeam.token, otherTeam.planId), 422, 'VALIDATION_FAILED', ['cursor']);
    const bytes = Buffer.from(cursor, 'base64url');
    bytes[bytes.length - 1]! ^= 0x80;
    const tampered = bytes.toString('base64url');
    expectError(await list(`?job_id=${jobId}&cursor=${tampered}`), 422, 'VALIDATION_FAILED', ['cursor']);
  });
});
