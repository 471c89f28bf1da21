import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { codeItem, DynamoCodeStore } from '../../functions/adapters/dynamodb/code-store';
import { DynamoExpiryStore } from '../../functions/adapters/dynamodb/expiry-store';
import { OUTBOX_ITEM_TYPE } from '../../functions/contracts/outbox';
import type { EventEnvelope } from '../../functions/contracts/events';
import { maskCode, randomCode } from '../../functions/domain/access-codes';
import { AppError, ResourceNotFoundError } from '../../functions/domain/errors';
import { cutBatchExpiry } from '../../functions/use-cases/batch-expiry';
import { sweepExpiredCodes } from '../../functions/use-cases/expiry-sweep';
import { redeemAccessCode } from '../../functions/use-cases/redeem-access-code';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { queuedJob } from '../support/jobs';
import { redemptionDeps, redemptionTeam, storedCodes } from '../support/redemption';

let table: TestTable;
let codes: DynamoCodeStore;
let expiry: DynamoExpiryStore;
const START = new Date('2026-11-21T12:00:00.000Z');
const HOUR = 3_600_000;
/** DynamoDB Local on a shared machine: generous headroom, nothing here is timed. */
const LONG_MS = 600_000;

beforeAll(async () => {
  table = await createTestTable();
  codes = new DynamoCodeStore(table.db, table.tableName);
  expiry = new DynamoExpiryStore(table.db, table.tableName, codes);
});
afterAll(async () => table.drop());

type Event = EventEnvelope<Record<string, unknown>>;
const expiredEvents = async (projectId: string): Promise<Event[]> =>
  (await table.scanAll())
    .filter((item) => item.type === OUTBOX_ITEM_TYPE)
    .map((item) => item.event as Event)
    .filter((event) => event.type === 'access_code.expired' && event.project_id === projectId);
const statuses = async (list: string[]) => Promise.all(list.map(async (code) => (await codes.getCode(code))!.status));
const sweepAt = (at: Date) => sweepExpiredCodes({ expiry, clock: { now: () => at } });

describe('the expiry sweep', () => {
  test('expires each due code with exactly one access_code.expired event; later and no_expiry codes are untouched; a repeated run changes nothing', async () => {
    const team = await redemptionTeam(table);
    const due = await storedCodes(table, team, { quantity: 30, expiresAt: new Date(START.getTime() + HOUR) });
    const later = await storedCodes(table, team, { quantity: 5, expiresAt: new Date(START.getTime() + 3 * HOUR) });
    const never = await storedCodes(table, team, { quantity: 5, expiresAt: null });
    const record = (await codes.getCode(due[0]!))!;

    expect((await sweepAt(new Date(START.getTime() + HOUR - 1))).expired).toBe(0);
    const first = await sweepAt(new Date(START.getTime() + HOUR));
    const second = await sweepAt(new Date(START.getTime() + HOUR + 1000));

    expect(first).toMatchObject({ expired: 30, backlogLeft: false });
    expect(second.expired).toBe(0);
    expect(await statuses(due)).toEqual(Array(30).fill('expired'));
    expect(await statuses(later)).toEqual(Array(5).fill('active'));
    expect(await statuses(never)).toEqual(Array(5).fill('active'));
    const events = await expiredEvents(team.projectId);
    expect(events).toHaveLength(30);
    expect(events.map((e) => e.data.access_code).sort()).toEqual(due.map(maskCode).sort());
    expect(events.find((e) => e.data.access_code === maskCode(due[0]!))).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: 'access_code.expired',
      created_at: new Date(START.getTime() + HOUR).toISOString(),
      api_version: '2026-05-01',
      project_id: team.projectId,
      data: { plan_id: team.planId, batch_id: record.batchId, access_code: maskCode(due[0]!), expires_at: record.expiresAt },
    });
    // Expired codes leave the expiry index; the listing shows them under their stored status.
    const listed = await codes.listCodes(team.planId, { status: 'expired', asOf: new Date(START.getTime() + HOUR + 1000) }, { limit: 100 });
    expect(listed.codes.map((c) => c.code).sort()).toEqual([...due].sort());
    expect((await table.scanAll()).filter((item) => due.includes(item.code as string) && 'gsi3pk' in item)).toEqual([]);
  });

  test('two overlapping runs expire each code once, with one event each', async () => {
    const team = await redemptionTeam(table);
    const due = await storedCodes(table, team, { quantity: 300, expiresAt: START });

    const runs = await Promise.all([sweepAt(START), sweepAt(START), sweepAt(START)]);

    expect(runs.reduce((sum, run) => sum + run.expired, 0)).toBe(300);
    expect(await statuses(due)).toEqual(Array(300).fill('expired'));
    const events = await expiredEvents(team.projectId);
    // The masks as a multiset: two of 300 codes share their last five symbols about once in 750 runs.
    expect(events.map((e) => e.data.access_code).sort()).toEqual(due.map(maskCode).sort());
  }, LONG_MS);

  test('a code expiring while it is being redeemed ends redeemed or expired, never both, with the one matching event', async () => {
    const team = await redemptionTeam(table);
    const expiresAt = new Date(START.getTime() + HOUR);
    const list = await storedCodes(table, team, { quantity: 40, expiresAt });
    // The redemption's clock is just before the expiry, the sweep's just at it: both may win.
    const redeemDeps = redemptionDeps(table, { now: () => new Date(expiresAt.getTime() - 1) });

    const [redemptions] = await Promise.all([
      Promise.allSettled(list.map((code, i) => redeemAccessCode(redeemDeps, team.principal, { code, subscriber_id: `usr_${i}` }))),
      sweepAt(expiresAt),
    ]);

    const final = await statuses(list);
    const events = await expiredEvents(team.projectId);
    const expiredMasks = new Set(events.map((e) => e.data.access_code));
    list.forEach((code, i) => {
      const outcome = redemptions[i]!;
      if (outcome.status === 'fulfilled') {
        expect(final[i]).toBe('redeemed');
        expect(expiredMasks.has(maskCode(code))).toBe(false);
      } else {
        expect((outcome.reason as AppError).code).toBe('CODE_EXPIRED');
        expect(final[i]).toBe('expired');
      }
    });
    // Any code the first run missed (redemption lost but the run had read it as gone) is taken next.
    await sweepAt(new Date(expiresAt.getTime() + 1000));
    const after = await statuses(list);
    expect(after.filter((s) => s === 'expired').length + after.filter((s) => s === 'redeemed').length).toBe(40);
    expect(await expiredEvents(team.projectId)).toHaveLength(after.filter((s) => s === 'expired').length);
  }, LONG_MS);

  test('redemption answers CODE_EXPIRED from expires_at itself before any sweep', async () => {
    const team = await redemptionTeam(table);
    const [code] = await storedCodes(table, team, { quantity: 1, expiresAt: START });
    const deps = redemptionDeps(table, { now: () => new Date(START.getTime() + 1) });

    await expect(redeemAccessCode(deps, team.principal, { code: code!, subscriber_id: 'usr_1' })).rejects.toMatchObject({ code: 'CODE_EXPIRED', status: 410 });
    expect((await codes.getCode(code!))!.status).toBe('active');
  });
});

describe('cutting a batch short', () => {
  /** The use case with room to finish inline (the HTTP tests cover an answer that leaves work to the sweep). */
  const cutDeps = (now: Date) => ({ expiry, clock: { now: () => now }, inlineMoveMs: LONG_MS });

  test('a half-redeemed batch cut to now: the 15 unredeemed codes expire with 15 events at once, the 5 redeemed are untouched, redeeming one answers 410', async () => {
    const team = await redemptionTeam(table);
    const list = await storedCodes(table, team, { quantity: 20, expiresAt: new Date(START.getTime() + 365 * 24 * HOUR) });
    const batchId = (await codes.getCode(list[0]!))!.batchId;
    const deps = redemptionDeps(table, { now: () => START });
    for (const [i, code] of list.slice(0, 5).entries()) await redeemAccessCode(deps, team.principal, { code, subscriber_id: `usr_${i}` });

    const cut = await cutBatchExpiry(cutDeps(START), { batchId, expiresAt: 'now', teamId: team.teamId });
    const again = await cutBatchExpiry(cutDeps(START), { batchId, expiresAt: 'now' });

    expect(cut).toEqual({ batch_id: batchId, expires_at: START.toISOString(), changed: true, status: 'completed', codes_affected: 15 });
    expect(again).toEqual({ ...cut, changed: false });
    expect(await statuses(list)).toEqual([...Array(5).fill('redeemed'), ...Array(15).fill('expired')]);
    const events = await expiredEvents(team.projectId);
    expect(events.map((e) => e.data.access_code).sort()).toEqual(list.slice(5).map(maskCode).sort());
    expect(events.every((e) => e.data.batch_id === batchId && e.data.expires_at === START.toISOString())).toBe(true);
    const listed = await codes.listCodes(team.planId, { status: 'expired', asOf: START }, { limit: 100 });
    expect(listed.codes.map((c) => c.code).sort()).toEqual(list.slice(5).sort());
    const redeemedListing = await codes.listCodes(team.planId, { status: 'redeemed', asOf: START }, { limit: 100 });
    expect(redeemedListing.codes.map((c) => c.code).sort()).toEqual(list.slice(0, 5).sort());
    // Expired codes leave the expiry index: the sweep finds nothing of the batch.
    expect((await table.scanAll()).filter((item) => list.includes(item.code as string) && 'gsi3pk' in item)).toEqual([]);
    await expect(redeemAccessCode(deps, team.principal, { code: list[10]!, subscriber_id: 'usr_x' })).rejects.toMatchObject({ code: 'CODE_EXPIRED', status: 410 });
  });

  test('cut to a future time: codes redeem until it, are refused from it on before any sweep, and the sweep then expires them with that expiry', async () => {
    const team = await redemptionTeam(table);
    const list = await storedCodes(table, team, { quantity: 6, expiresAt: null });
    const batchId = (await codes.getCode(list[0]!))!.batchId;
    const cutAt = new Date(START.getTime() + HOUR);

    const cut = await cutBatchExpiry(cutDeps(START), { batchId, expiresAt: cutAt.toISOString(), teamId: team.teamId });
    await redeemAccessCode(redemptionDeps(table, { now: () => new Date(cutAt.getTime() - 1) }), team.principal, { code: list[0]!, subscriber_id: 'usr_before' });
    await expect(redeemAccessCode(redemptionDeps(table, { now: () => cutAt }), team.principal, { code: list[1]!, subscriber_id: 'usr_at' })).rejects.toMatchObject({ code: 'CODE_EXPIRED' });
    await sweepAt(cutAt);

    expect(cut).toEqual({ batch_id: batchId, expires_at: cutAt.toISOString(), changed: true, status: 'completed', codes_affected: 6 });
    expect(await statuses(list)).toEqual(['redeemed', ...Array(5).fill('expired')]);
    const events = await expiredEvents(team.projectId);
    expect(events.map((e) => e.data.access_code).sort()).toEqual(list.slice(1).map(maskCode).sort());
    expect(events.every((e) => e.data.expires_at === cutAt.toISOString())).toBe(true);
  });

  test('an earlier cut replaces a later one still moving: the codes end at the earlier expiry, each expired once', async () => {
    const team = await redemptionTeam(table);
    const list = await storedCodes(table, team, { quantity: 120, expiresAt: null });
    const batchId = (await codes.getCode(list[0]!))!.batchId;
    const later = new Date(START.getTime() + 2 * HOUR);

    // No time to move anything inline: both changes are left to the sweep, the earlier in force.
    const first = await cutBatchExpiry({ ...cutDeps(START), inlineMoveMs: 0 }, { batchId, expiresAt: later.toISOString() });
    const second = await cutBatchExpiry({ ...cutDeps(START), inlineMoveMs: 0 }, { batchId, expiresAt: 'now' });
    const third = await cutBatchExpiry({ ...cutDeps(START), inlineMoveMs: 0 }, { batchId, expiresAt: later.toISOString() });
    const run = await sweepAt(START);
    const done = await cutBatchExpiry(cutDeps(START), { batchId });

    expect([first, second, third].map((a) => [a.expires_at, a.changed, a.status, a.codes_affected])).toEqual([
      [later.toISOString(), true, 'in_progress', 0],
      [START.toISOString(), true, 'in_progress', 0],
      [START.toISOString(), false, 'in_progress', 0],
    ]);
    expect(run.batchExpiriesCompleted).toBeGreaterThanOrEqual(1);
    expect(done).toEqual({ batch_id: batchId, expires_at: START.toISOString(), changed: false, status: 'completed', codes_affected: 120 });
    expect(await statuses(list)).toEqual(Array(120).fill('expired'));
    expect(await expiredEvents(team.projectId)).toHaveLength(120);
  }, LONG_MS);

  test('another team, an unknown batch and a bad time are refused and change nothing', async () => {
    const team = await redemptionTeam(table);
    const list = await storedCodes(table, team, { quantity: 3, expiresAt: null });
    const batchId = (await codes.getCode(list[0]!))!.batchId;
    const deps = cutDeps(START);

    await expect(cutBatchExpiry(deps, { batchId, teamId: 'tea_01HX0000000000000000000000' })).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(cutBatchExpiry(deps, { batchId: 'btc_01HX0000000000000000000000' })).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(cutBatchExpiry(deps, { batchId, expiresAt: 'tomorrow' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await Promise.all(list.map((c) => codes.getCode(c)))).map((c) => c!.expiresAt)).toEqual([null, null, null]);
    expect(await expiry.batchExpiry(batchId)).toBeUndefined();
  });
});

describe('a large backlog', () => {
  let big: TestTable;
  beforeAll(async () => {
    big = await createTestTable();
  });
  afterAll(async () => big.drop());

  // Ten pages' worth of due codes: the run reads page after page (each bucket on from the keys it
  // handled) until none is left; a run whose time is up stops after its page. A page of 64 is 2
  // keys a bucket over the 32 buckets and two transactions (50 + 14 codes): the same paths as a
  // page of 2,000 with a tenth of the codes to write and scan. EXPIRY_BACKLOG=20000 runs the
  // issue's size.
  const BACKLOG = Number(process.env.EXPIRY_BACKLOG ?? 640);
  const PAGE = BACKLOG / 10;
  test(`${BACKLOG} due codes: a run out of time expires one page and leaves the rest; the next drains them all in one run, exactly ${BACKLOG} events`, async () => {
    const job = queuedJob({ quantity: BACKLOG, expiresAt: START.toISOString() });
    const items = Array.from({ length: BACKLOG }, (_, slot) => codeItem(job, slot, randomCode(), START));
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < items.length; i += 25) {
      writes.push(big.db.send(new BatchWriteCommand({ RequestItems: { [big.tableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } })));
      if (writes.length === 8) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    const store = new DynamoExpiryStore(big.db, big.tableName, new DynamoCodeStore(big.db, big.tableName));
    const run = (deadline?: number) => sweepExpiredCodes({ expiry: store, clock: { now: () => START }, pageSize: PAGE, ...(deadline === undefined ? {} : { deadline }) });

    const outOfTime = await run(0);
    // A liveness bound, not a speed target: a run has until its deadline, here generous for a loaded machine.
    const drained = await run(Date.now() + 600_000);
    const after = await run();

    expect(outOfTime).toMatchObject({ pages: 1, backlogLeft: true });
    expect(outOfTime.expired).toBeGreaterThan(0);
    expect(outOfTime.expired).toBeLessThanOrEqual(PAGE);
    expect(drained.backlogLeft).toBe(false);
    expect(drained.pages).toBeGreaterThanOrEqual(9);
    expect(outOfTime.expired + drained.expired).toBe(BACKLOG);
    expect(after.expired).toBe(0);
    const all = await big.scanAll();
    expect(all.filter((item) => item.type === OUTBOX_ITEM_TYPE)).toHaveLength(BACKLOG);
    expect(all.filter((item) => item.type === 'access_code' && item.status !== 'expired')).toHaveLength(0);
  }, LONG_MS);
});
