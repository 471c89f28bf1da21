import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { billingIndexKeys, redemptionKeys } from '../../functions/contracts/table';
import { billingPeriodOf } from '../../functions/domain/billing-period';
import { newId } from '../../functions/domain/ids';
import type { TestTable } from './dynamodb';

/**
 * The billing record a billed redemption's commit writes (same keys and fields), `queued` for
 * `customer` or `pending` without one: what the billing path starts from, written here directly.
 */
export const billingRecordItem = (projectId: string, customer: string | null, at = new Date(), redemptionId = newId('redemption')) => {
  const period = billingPeriodOf(at);
  const state = customer ? 'queued' : 'pending';
  return {
    ...redemptionKeys.billingRecord(redemptionId),
    type: 'billing_record',
    ...billingIndexKeys(projectId, period, redemptionId, state === 'pending'),
    redemption_id: redemptionId,
    project_id: projectId,
    period,
    stripe_customer_id: customer,
    redeemed_at: at.toISOString(),
    state,
    updated_at: at.toISOString(),
  };
};

/** Writes `count` billing records of one project (25 a batch, unprocessed ones again); their redemption ids. */
export const commitBillingRecords = async (table: TestTable, projectId: string, customer: string | null, count: number): Promise<string[]> => {
  const items = Array.from({ length: count }, () => billingRecordItem(projectId, customer));
  for (let start = 0; start < items.length; start += 25) {
    let requests: unknown[] | undefined = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
    while (requests && requests.length > 0) {
      const result: { UnprocessedItems?: Record<string, unknown[]> } = await table.db.send(new BatchWriteCommand({ RequestItems: { [table.tableName]: requests as never } }));
      requests = result.UnprocessedItems?.[table.tableName];
    }
  }
  return items.map((item) => item.redemption_id);
};

/** Waits until `done()` holds, polling; throws with `describe()` after `timeoutMs` (a hang, not a speed check). */
export const eventually = async (done: () => boolean | Promise<boolean>, describe: () => string, timeoutMs = 90_000): Promise<void> => {
  const until = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > until) throw new Error(`gave up waiting: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};
