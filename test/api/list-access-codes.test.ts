import { BatchWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoCodeStore, codeItem, codeStatusChange } from '../../functions/adapters/dynamodb/code-store';
import { AesGcmCursorCodec, randomCursorKey } from '../../functions/adapters/crypto/aes-gcm-cursor-codec';
import { makeDocumentClient } from '../../functions/adapters/dynamodb/client';
import { codeStatusAt, type AccessCodeStatus } from '../../functions/domain/access-code-record';
import { displayCode, randomCode } from '../../functions/domain/access-codes';
import * as admin from '../../functions/use-cases/admin';
import { systemClock } from '../../functions/domain/ports';
import { localClientConfig } from '../../local/dynamodb-local';
import { startTestApi, type ApiAnswer, type TestApi } from '../support/api';
import { FakeClock } from '../support/clock';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamodb';
import { createTeamFixture, type TeamFixture } from '../support/fixtures';

const T0 = new Date('2026-06-01T12:00:00.000Z');
const HOUR = 3_600_000;
/** The listing's read budget in this file, and the big plan's size: six budgets. */
const READ_BUDGET = 100;
const BIG = 6 * READ_BUDGET;

let table: TestTable;
let api: TestApi;
let team: TeamFixture;
let mixPlan: string;
const clock = new FakeClock(T0);
/** DynamoDB requests made by the code store behind the API (a middleware on its own client). */
let codeRequests = 0;
let countingDb: DynamoDBDocumentClient;
let codes: DynamoCodeStore;

/** What the test wrote, to judge listings against. */
interface Written {
  code: string;
  planId: string;
  jobId: string;
  slot: number;
  status: AccessCodeStatus;
  expiresAt: string | null;
}
const written: Written[] = [];

type JobShape = { id: string; planId: string; projectId: string; teamId: string; batchId: string; expiresAt: string | null };
const jobShape = (id: string, planId: string, expiresAt: string | null): JobShape => ({
  id,
  planId,
  projectId: team.projectId,
  teamId: team.teamId,
  batchId: id.replace('mjb_', 'btc_'),
  expiresAt,
});

/** Writes `count` codes of a job straight into the table, in the store's own item shape. */
const insertCodes = async (job: JobShape, count: number) => {
  const items = Array.from({ length: count }, (_, slot) => {
    const code = randomCode();
    written.push({ code, planId: job.planId, jobId: job.id, slot, status: 'active', expiresAt: job.expiresAt });
    return codeItem(job, slot, code, T0);
  });
  const batches: (typeof items)[] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  for (let i = 0; i < batches.length; i += 8) {
    await Promise.all(
      batches.slice(i, i + 8).map(async (batch) => {
        let pending: Record<string, any>[] = batch.map((Item) => ({ PutRequest: { Item } }));
        while (pending.length > 0) {
          const result = await table.db.send(new BatchWriteCommand({ RequestItems: { [table.tableName]: pending } }));
          pending = result.UnprocessedItems?.[table.tableName] ?? [];
        }
      }),
    );
  }
};

beforeAll(async () => {
  table = await createTestTable();
  team = await createTeamFixture(table.accounts, { viewer: ['project-access-code:view-any'] });
  mixPlan = (await admin.createPlan({ accounts: table.accounts, clock: systemClock }, { projectId: team.projectId, name: 'Mix' })).plan_id;
  countingDb = makeDocumentClient(localClientConfig(dynamoEndpoint()));
  countingDb.middlewareStack.add(
    (next) => async (args) => {
      codeRequests++;
      return next(args);
    },
    { step: 'initialize', name: 'countCodeStoreRequests' },
  );
  // A read budget of 100 items a request (1,000 in service): the big plan's 600 codes are then
  // what 6,000 are in service, six budgets, so a listing that read the plan and then filtered
  // would need more requests than the bound allows.
  codes = new DynamoCodeStore(countingDb, table.tableName, READ_BUDGET);
  api = await startTestApi(table, clock, { codes, cursors: new AesGcmCursorCodec(randomCursorKey()) });

  // The big plan: 6 read budgets of codes, all active and unexpired, none redeemed — the worst
  // case for a status filter that reads the plan and then filters.
  await insertCodes(jobShape('mjb_bigA', team.planId, new Date(T0.getTime() + 24 * HOUR).toISOString()), BIG / 2);
  await insertCodes(jobShape('mjb_bigB', team.planId, null), BIG / 2);

  // The mixed plan: every kind of code.
  await insertCodes(jobShape('mjb_mix1', mixPlan, new Date(T0.getTime() + HOUR).toISOString()), 120);
  await insertCodes(jobShape('mjb_mix2', mixPlan, null), 80);
  await insertCodes(jobShape('mjb_mix3', mixPlan, new Date(T0.getTime() - 24 * HOUR).toISOString()), 60);
  // 10 of mix1 redeemed, through the same conditional write redemption will use.
  for (const record of written.filter((w) => w.jobId === 'mjb_mix1').slice(0, 10)) {
    await table.db.send(
      new UpdateCommand({
        TableName: table.tableName,
        ...codeStatusChange({ ...record, planId: mixPlan }, 'redeemed', { set: 'redeemed_at = :at', values: { ':at': T0.toISOString() } }),
      }),
    );
    record.status = 'redeemed';
  }
  // 20 of mix3 swept to expired; the other 40 stay active past their expiry.
  for (const record of written.filter((w) => w.jobId === 'mjb_mix3').slice(0, 20)) {
    expect(await codes.expireCode(record.code, T0)).toBe(true);
    record.status = 'expired';
  }
}, 300_000);
afterAll(async () => {
  await api?.close();
  countingDb?.destroy();
  await table?.drop();
});

const list = async (planId: string, query: Record<string, string>): Promise<ApiAnswer & { requests: number }> => {
  const before = codeRequests;
  const answer = await api.call('GET', `/v1/plans/${planId}/access-codes?${new URLSearchParams(query)}`, { token: team.tokens.viewer! });
  return { ...answer, requests: codeRequests - before };
};

/** Pages to the end; every request answers 200 within `maxRequests` code-store requests. */
const listAll = async (planId: string, query: Record<string, string>, maxRequests = 3) => {
  const seen: Array<{ code: string; status: string; job_id: string; expires_at: string | null }> = [];
  const cursors: string[] = [];
  let cursor: string | undefined;
  do {
    const answer = await list(planId, { ...query, ...(cursor ? { cursor } : {}) });
    expect(answer.status).toBe(200);
    expect(answer.requests).toBeLessThanOrEqual(maxRequests);
    seen.push(...answer.body.data.codes);
    cursor = answer.body.data.next_cursor ?? undefined;
    if (cursor) cursors.push(cursor);
  } while (cursor);
  return { seen, cursors };
};

const expectCursorRefused = (answer: ApiAnswer) => {
  expect(answer.status).toBe(422);
  expect(answer.body.error.code).toBe('VALIDATION_FAILED');
  expect(answer.body.error.details.map((detail: { path: string }) => detail.path)).toEqual(['cursor']);
};

describe('listing by status or job on a plan with six read budgets of codes', () => {
  const worstCases: Array<Record<string, string>> = [
    { status: 'redeemed', limit: '1' },
    { status: 'expired', limit: '1' },
    { job_id: 'mjb_elsewhere', limit: '1' },
    { job_id: 'mjb_mix1', limit: '1' },
    { job_id: 'mjb_bigB', status: 'redeemed', limit: '1' },
    { job_id: 'mjb_bigB', status: 'expired', limit: '1' },
  ];

  test.each(worstCases)('%j costs a few requests, not one per code', async (query) => {
    const answer = await list(team.planId, query);
    expect(answer.status).toBe(200);
    expect(answer.body.data.codes).toEqual([]);
    expect(answer.requests).toBeLessThanOrEqual(3);
  });

  test('ten of each at once all answer 200', async () => {
    const answers = await Promise.all(worstCases.slice(0, 3).flatMap((query) => Array.from({ length: 10 }, () => list(team.planId, query))));
    expect(answers.map((answer) => answer.status)).toEqual(Array(30).fill(200));
  });

  test('a job filter on active codes that sort behind another job’s reads a bounded amount per request and still finds them all', async () => {
    // Active codes sort by expiry: mjb_bigB (no expiry) comes after all of mjb_bigA.
    const { seen } = await listAll(team.planId, { job_id: 'mjb_bigB', status: 'active', limit: String(READ_BUDGET / 2) });
    expect(seen).toHaveLength(BIG / 2);
    expect(new Set(seen.map((code) => code.code)).size).toBe(BIG / 2);
    expect(seen.every((code) => code.job_id === 'mjb_bigB')).toBe(true);
  }, 120_000);

  test('status=active pages the whole plan in expiry order, each code once', async () => {
    const { seen } = await listAll(team.planId, { status: 'active', limit: String(READ_BUDGET / 2) });
    expect(seen).toHaveLength(BIG);
    expect(new Set(seen.map((code) => code.code)).size).toBe(BIG);
    const order = seen.map((code) => code.expires_at ?? '9999');
    expect(order).toEqual([...order].sort());
  }, 120_000);
});

describe('paging with every filter', () => {
  const expected = (filter: { status?: AccessCodeStatus; jobId?: string }, now: Date) =>
    written
      .filter((w) => w.planId === mixPlan && (!filter.jobId || w.jobId === filter.jobId))
      .filter((w) => !filter.status || codeStatusAt(w, now) === filter.status)
      .map((w) => displayCode(w.code))
      .sort();

  const filters: Array<{ status?: AccessCodeStatus; jobId?: string }> = [
    {},
    { status: 'active' },
    { status: 'redeemed' },
    { status: 'expired' },
    { jobId: 'mjb_mix1' },
    { jobId: 'mjb_mix1', status: 'active' },
    { jobId: 'mjb_mix1', status: 'redeemed' },
    { jobId: 'mjb_mix1', status: 'expired' },
    { jobId: 'mjb_mix3', status: 'expired' },
    { jobId: 'mjb_mix2', status: 'active' },
  ];

  test.each(filters)('%j returns every matching code exactly once, now and two hours later', async (filter) => {
    for (const now of [T0, new Date(T0.getTime() + 2 * HOUR)]) {
      clock.set(now);
      const query = { limit: '7', ...(filter.status ? { status: filter.status } : {}), ...(filter.jobId ? { job_id: filter.jobId } : {}) };
      const { seen } = await listAll(mixPlan, query);
      const listed = seen.map((code) => code.code);
      expect(listed.length).toBe(new Set(listed).size);
      expect(listed.sort()).toEqual(expected(filter, now));
      if (filter.status) expect(seen.every((code) => code.status === filter.status)).toBe(true);
    }
    clock.set(T0);
  });

  test('a code that expires between two pages is neither lost nor shown twice under status=expired', async () => {
    clock.set(T0);
    const first = await list(mixPlan, { status: 'expired', limit: '25' });
    expect(first.body.data.codes).toHaveLength(25);
    clock.set(new Date(T0.getTime() + 2 * HOUR)); // mjb_mix1's active codes pass their expiry
    const rest = await listAll(mixPlan, { status: 'expired', limit: '25', cursor: first.body.data.next_cursor });
    const listed = [...first.body.data.codes, ...rest.seen].map((code: { code: string }) => code.code);
    expect(listed.length).toBe(new Set(listed).size);
    expect(listed.sort()).toEqual(expected({ status: 'expired' }, clock.now()));
    clock.set(T0);
  });
});

describe('cursors', () => {
  const firstCursor = async (planId: string, query: Record<string, string>): Promise<string> => {
    const answer = await list(planId, { limit: '2', ...query });
    expect(answer.status).toBe(200);
    return answer.body.data.next_cursor;
  };

  test('a cursor issued for another plan, status or job is refused with 422 on cursor', async () => {
    const plain = await firstCursor(mixPlan, {});
    const active = await firstCursor(mixPlan, { status: 'active' });
    const ofJob = await firstCursor(mixPlan, { job_id: 'mjb_mix1' });
    expectCursorRefused(await list(team.planId, { cursor: plain }));
    expectCursorRefused(await list(mixPlan, { cursor: active, status: 'expired' }));
    expectCursorRefused(await list(mixPlan, { cursor: active }));
    expectCursorRefused(await list(mixPlan, { cursor: ofJob, job_id: 'mjb_mix2' }));
    expectCursorRefused(await list(mixPlan, { cursor: ofJob }));
    expectCursorRefused(await list(mixPlan, { cursor: plain, job_id: 'mjb_mix1' }));
    // The same cursor with its own listing still works.
    expect((await list(mixPlan, { cursor: ofJob, job_id: 'mjb_mix1' })).status).toBe(200);
  });

  test('hand-made, truncated and bit-flipped cursors are refused with 422, never a 500', async () => {
    const real = await firstCursor(mixPlan, {});
    const bytes = Buffer.from(real, 'base64url');
    const handMade = [
      { gsi1pk: `PLAN#${mixPlan}`, gsi1sk: '', pk: 'CODE#X', sk: 'CODE' },
      { gsi1pk: `PLAN#${mixPlan}`, gsi1sk: 'ZZZ', pk: 'CODE#X', sk: 'CODE' },
      { part: 0, after: 'ZZZ' },
      { part: 5, after: null },
    ].map((key) => Buffer.from(JSON.stringify(key)).toString('base64url'));
    const flipped = [0, 5, 12, 20, bytes.length - 1].map((index) => {
      const copy = Buffer.from(bytes);
      copy[index]! ^= 0x01;
      return copy.toString('base64url');
    });
    const malformed = [
      'garbage',
      real.slice(0, -1),
      real.slice(0, real.length / 2),
      real.slice(0, 16),
      `${real}A`,
      `${real}==`,
      real.replace(/[A-Za-z]/, (c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())),
      '%%%',
      'x'.repeat(2048),
    ];
    for (const cursor of [...handMade, ...flipped, ...malformed]) {
      const answer = await list(mixPlan, { cursor });
      if (answer.status !== 422) throw new Error(`cursor ${cursor} answered ${answer.status}: ${answer.text}`);
      expectCursorRefused(answer);
    }
  });

  test('no cursor contains a code, in any reading of it', async () => {
    const { cursors } = await listAll(mixPlan, { limit: '3' });
    const { cursors: expiredCursors } = await listAll(mixPlan, { limit: '3', status: 'expired' });
    const all = [...cursors, ...expiredCursors];
    expect(all.length).toBeGreaterThan(80);
    const planCodes = written.filter((w) => w.planId === mixPlan);
    for (const cursor of all) {
      const readings = [cursor, Buffer.from(cursor, 'base64url').toString('latin1'), Buffer.from(cursor, 'base64').toString('latin1')];
      for (const reading of readings) {
        expect(() => JSON.parse(reading)).toThrow();
        for (const { code } of planCodes) {
          if (reading.includes(code) || reading.includes(displayCode(code))) throw new Error('a cursor carries a code');
        }
      }
    }
  });
});
