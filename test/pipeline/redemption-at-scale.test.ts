import { OUTBOX_ITEM_TYPE } from '../../functions/contracts/outbox';
import { withAccountReadCache, ACCOUNT_READ_TTLS } from '../../functions/adapters/account-read-cache';
import { makeDocumentClient } from '../../functions/adapters/dynamodb/client';
import { DynamoAccountStore } from '../../functions/adapters/dynamodb/account-store';
import { DynamoRedemptionStore } from '../../functions/adapters/dynamodb/redemption-store';
import { AppError } from '../../functions/domain/errors';
import { systemClock } from '../../functions/domain/ports';
import { redeemAccessCode } from '../../functions/use-cases/redeem-access-code';
import { AwsBehaviour } from '../../local/aws-behaviour';
import { localClientConfig } from '../../local/dynamodb-local';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamodb';
import { redemptionTeam, storedCodes } from '../support/redemption';
import { streamWritesPerItem } from '../support/table-stream';

let table: TestTable;
beforeAll(async () => {
  table = await createTestTable();
});
afterAll(async () => table.drop());

const N = 1_000;
const FREE = 10;
const CLIENTS = 32;

describe('redemption at DynamoDB\'s limits (DynamoDB Local with AWS\'s conflicts and throttles)', () => {
  test(`${N} redemptions of one project by ${CLIENTS} clients, 5 % of calls refused at random: all succeed, exactly N − free billed, no item written more than N/10 times`, async () => {
    const team = await redemptionTeam(table, { freeAllotment: FREE, unitPriceMinor: 3, currency: 'USD' }, 'cus_scale');
    const codes = await storedCodes(table, team, { quantity: N });
    // The redemption path's own client, as a function would have it, with AWS's behaviour on top.
    const aws = new AwsBehaviour({ faultRate: 0.05 });
    const db = makeDocumentClient(localClientConfig(dynamoEndpoint()));
    aws.install(db);
    const deps = {
      accounts: withAccountReadCache(new DynamoAccountStore(db, table.tableName), ACCOUNT_READ_TTLS.redemption),
      redemptions: new DynamoRedemptionStore(db, table.tableName),
      clock: systemClock,
    };

    const answers: Awaited<ReturnType<typeof redeemAccessCode>>[] = [];
    const failures: unknown[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < codes.length) {
          const i = next++;
          await redeemAccessCode(deps, team.principal, { code: codes[i]!, subscriber_id: `usr_${i}` }).then((a) => answers.push(a), (e: unknown) => failures.push(e));
        }
      }),
    );
    db.destroy();

    // Not one 5xx: every failure would be one (AppErrors are 4xx, and none is expected either).
    expect(failures.map((e) => (e instanceof AppError ? e.code : String(e)))).toEqual([]);
    expect(answers).toHaveLength(N);
    expect(answers.filter((a) => a.data.billing.overage)).toHaveLength(N - FREE);
    expect(Object.values(aws.injected).reduce((sum, n) => sum + n, 0)).toBeGreaterThan(N / 50);

    const items = await table.scanAll();
    const records = items.filter((item) => item.type === 'billing_record' && item.project_id === team.projectId);
    expect(records).toHaveLength(N - FREE);
    expect(new Set(records.map((r) => r.redemption_id)).size).toBe(N - FREE);
    expect(items.filter((item) => item.type === OUTBOX_ITEM_TYPE && (item.event as { type: string }).type === 'access_code.redeemed')).toHaveLength(N);
    expect(items.filter((item) => item.type === 'subscription' && item.project_id === team.projectId)).toHaveLength(N);
    expect(await table.accounts.freeAllotmentUsed(team.projectId, new Date().toISOString().slice(0, 7))).toBe(FREE);

    const writes = await streamWritesPerItem(table.tableName);
    const [hottest, most] = [...writes.entries()].sort((a, b) => b[1] - a[1])[0]!;
    expect(most).toBeLessThanOrEqual(N / 10);

    const commits = aws.capacity.filter((c) => c.operation === 'TransactWriteItems');
    const wcu = (free: boolean) => {
      const list = commits.filter((c) => c.written.some((key) => key.startsWith('ALLOTMENT#')) === free);
      return list.reduce((sum, c) => sum + c.writeUnits, 0) / Math.max(1, list.length);
    };
    console.log(
      `${N} redemptions, ${CLIENTS} clients: injected ${JSON.stringify(aws.injected)}; WCU per redemption free ${wcu(true).toFixed(1)}, billed ${wcu(false).toFixed(1)}; ` +
        `hottest item in the stream ${hottest} written ${most} times (${(most / N).toFixed(3)} a redemption)`,
    );
  }, 300_000);
});
