import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoRedemptionStore, codeRedemptionUpdate } from '../../functions/adapters/dynamodb/redemption-store';
import { DynamoBillingStore } from '../../functions/adapters/dynamodb/billing-store';
import { keys, redemptionKeys } from '../../functions/contracts/table';
import { systemClock } from '../../functions/domain/ports';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { redemptionTeam, storedCodes } from '../support/redemption';

let table: TestTable;
let store: DynamoRedemptionStore;
let billing: DynamoBillingStore;
beforeAll(async () => {
  table = await createTestTable();
  store = new DynamoRedemptionStore(table.db, table.tableName);
  billing = new DynamoBillingStore(table.db, table.tableName);
});
afterAll(async () => table.drop());

/** Redeems `count` codes of a fresh project with no free allotment, so each one is billed. */
const billedRedemptions = async (count: number, stripeCustomerId?: string) => {
  const team = await redemptionTeam(table, { freeAllotment: 0, unitPriceMinor: 7, currency: 'USD' }, stripeCustomerId);
  const project = (await table.accounts.findProject(team.projectId))!;
  const plan = (await table.accounts.findPlan(team.planId))!;
  const codes = await storedCodes(table, team, { quantity: count });
  const ids: string[] = [];
  for (const [i, code] of codes.entries()) {
    const result = await store.redeem({ code, subscriberId: `usr_${i}`, plan, project, clock: systemClock });
    if (result.outcome !== 'redeemed') throw new Error(`unexpected ${result.outcome}`);
    ids.push(result.redemption.id);
  }
  const period = new Date().toISOString().slice(0, 7);
  return { team, ids, period, ref: (redemptionId: string) => ({ redemptionId, projectId: team.projectId, period }) };
};

const stateOf = async (redemptionId: string) =>
  (await table.db.send(new GetCommand({ TableName: table.tableName, Key: redemptionKeys.billingRecord(redemptionId), ConsistentRead: true }))).Item;

describe('billing records', () => {
  test('a billed redemption commits a queued record with its Stripe customer, found by project and period', async () => {
    const { ids, team, period } = await billedRedemptions(2, 'cus_1');
    const records = await billing.billingRecords(team.projectId, period);
    expect(records.map((r) => [r.redemptionId, r.redemptionNumber, r.state, r.stripeCustomerId])).toEqual([
      [ids[0], 1, 'queued', 'cus_1'],
      [ids[1], 2, 'queued', 'cus_1'],
    ]);
    expect(await billing.pendingForProject(team.projectId)).toEqual([]);
  });

  test('marks are idempotent, billed is final, and failed keeps its reason', async () => {
    const { ids, ref } = await billedRedemptions(3, 'cus_2');
    const at = new Date('2026-11-21T12:00:00Z');

    await billing.markBilled(ref(ids[0]!), at);
    await billing.markBilled(ref(ids[0]!), new Date('2026-11-21T13:00:00Z'));
    await billing.markFailed(ref(ids[0]!), 'too late', at);
    await billing.markPending(ref(ids[0]!), at);
    expect(await stateOf(ids[0]!)).toMatchObject({ state: 'billed', updated_at: at.toISOString() });
    expect(await billing.isBilled(ids[0]!)).toBe(true);

    await billing.markFailed(ref(ids[1]!), 'No such customer', at);
    await billing.markFailed(ref(ids[1]!), 'No such customer', at);
    expect(await stateOf(ids[1]!)).toMatchObject({ state: 'failed', reason: 'No such customer' });
    expect(await billing.isBilled(ids[1]!)).toBe(false);

    await billing.markPending(ref(ids[2]!), at);
    await billing.markBilled(ref(ids[2]!), at);
    expect(await stateOf(ids[2]!)).toMatchObject({ state: 'billed' });
    expect((await stateOf(ids[2]!))!.reason).toBeUndefined();
  });

  test('concurrent marks of one record leave it billed when any of them billed it', async () => {
    const { ids, ref } = await billedRedemptions(1, 'cus_3');
    const at = new Date();
    await Promise.all([billing.markPending(ref(ids[0]!), at), billing.markBilled(ref(ids[0]!), at), billing.markFailed(ref(ids[0]!), 'x', at), billing.markBilled(ref(ids[0]!), at)]);
    expect(await stateOf(ids[0]!)).toMatchObject({ state: 'billed' });
  });

  test('a redemption that never committed, or another project\'s, cannot be marked', async () => {
    const { ids, period } = await billedRedemptions(1, 'cus_4');
    await expect(billing.markBilled({ redemptionId: 'rdm_01HXNEVERCOMMITTED', projectId: 'prj_x', period }, new Date())).rejects.toThrow(/no billing record/);
    await expect(billing.markBilled({ redemptionId: ids[0]!, projectId: 'prj_other', period }, new Date())).rejects.toThrow(/no billing record/);
    expect(await stateOf(ids[0]!)).toMatchObject({ state: 'queued' });
  });

  test('usage kept pending is listed for its project until it is billed', async () => {
    const { ids, ref, team, period } = await billedRedemptions(3);
    expect((await billing.pendingForProject(team.projectId)).map((r) => r.redemptionId).sort()).toEqual([...ids].sort());
    expect((await billing.pendingForProject(team.projectId)).every((r) => r.stripeCustomerId === null)).toBe(true);

    await billing.markBilled(ref(ids[0]!), new Date());

    expect((await billing.pendingForProject(team.projectId)).map((r) => r.redemptionId).sort()).toEqual([ids[1], ids[2]].sort());
    expect((await billing.billingRecords(team.projectId, period)).map((r) => r.state)).toEqual(['billed', 'pending', 'pending']);
  });
});

describe('the code\'s status transition', () => {
  test('moves an active code of the plan to redeemed, and refuses a redeemed, expired or foreign one', async () => {
    const team = await redemptionTeam(table);
    const [fresh, expired] = await storedCodes(table, team, { quantity: 2, expiresAt: new Date(Date.now() + 60_000) });
    const fields = (redeemedAt: Date, teamId = team.teamId) => ({ teamId, planId: team.planId, subscriptionId: 'sub_1', redemptionId: 'rdm_1', redeemedAt: redeemedAt.toISOString() });
    const run = async (code: string, f: ReturnType<typeof fields>) => {
      const { Item } = await table.db.send(new GetCommand({ TableName: table.tableName, Key: keys.code(code) }));
      const ref = { code, planId: team.planId, jobId: Item?.job_id as string, slot: Item?.slot as number };
      return table.db.send(new TransactWriteCommand({ TransactItems: [codeRedemptionUpdate(table.tableName, ref, f)] })).then(() => 'ok', (e: Error) => e.name);
    };

    expect(await run(fresh!, fields(new Date(), 'tea_other'))).toBe('TransactionCanceledException');
    expect(await run(expired!, fields(new Date(Date.now() + 60_000)))).toBe('TransactionCanceledException');
    expect(await run(fresh!, fields(new Date()))).toBe('ok');
    expect(await run(fresh!, fields(new Date()))).toBe('TransactionCanceledException');
    const item = (await table.db.send(new GetCommand({ TableName: table.tableName, Key: keys.code(fresh!), ConsistentRead: true }))).Item!;
    expect(item).toMatchObject({ status: 'redeemed', subscription_id: 'sub_1', redemption_id: 'rdm_1' });
  });
});
