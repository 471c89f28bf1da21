import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { codeRedemptionUpdate } from '../../functions/adapters/dynamodb/redemption-store';
import { keys } from '../../functions/contracts/table';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { redemptionTeam, storedCodes } from '../support/redemption';

let table: TestTable;
beforeAll(async () => {
  table = await createTestTable({ awsBehaviour: {} });
});
afterAll(async () => table.drop());

describe('the code\'s status transition', () => {
  test('moves an active code of the plan to redeemed, and refuses a redeemed, expired or foreign one', async () => {
    const team = await redemptionTeam(table);
    const [fresh, expired] = await storedCodes(table, team, { quantity: 2, expiresAt: new Date(Date.now() + 60_000) });
    const fields = (redeemedAt: Date, teamId = team.teamId) => ({
      teamId, planId: team.planId, subscriptionId: 'sub_1', redemptionId: 'rdm_1', subscriberId: 'usr_1', redeemedAt: redeemedAt.toISOString(),
      answer: { subscription_id: 'sub_1', plan_id: team.planId, subscriber_id: 'usr_1', access_code: 'masked_ABCDE', redeemed_at: redeemedAt.toISOString(), billing: { period: '2026-11', free_allotment: 10, overage: false, unit_price: '0.03', currency: 'USD' } },
    });
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
    expect(item).toMatchObject({ status: 'redeemed', subscription_id: 'sub_1', redemption_id: 'rdm_1', subscriber_id: 'usr_1', answer: { access_code: 'masked_ABCDE' } });
  });
});
