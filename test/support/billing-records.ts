import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { billingRecordItem } from '../../functions/adapters/dynamodb/billing-store';
import { billingPeriodOf } from '../../functions/domain/billing-period';
import { newId } from '../../functions/domain/ids';
import type { TestTable } from './dynamodb';

/**
 * The billing record a billed redemption's commit writes (the store's own builder), `queued` for
 * `customer` or `pending` without one: what the billing path starts from, written here directly.
 */
export const billedRecordItem = (projectId: string, customer: string | null, at = new Date(), redemptionId = newId('redemption')) =>
  billingRecordItem({ redemptionId, projectId, period: billingPeriodOf(at), stripeCustomerId: customer, state: customer ? 'queued' : 'pending', at: at.toISOString() });

/** Writes `count` billing records of one project (25 a batch, unprocessed ones again); their redemption ids. */
export const commitBillingRecords = async (table: TestTable, projectId: string, customer: string | null, count: number): Promise<string[]> => {
  const items = Array.from({ length: count }, () => billedRecordItem(projectId, customer));
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
