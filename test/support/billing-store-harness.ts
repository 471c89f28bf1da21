import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoBillingStore, billingRecordFromItem, billingRecordItem } from '../../functions/adapters/dynamodb/billing-store';
import type { BillingRecord } from '../../functions/domain/billing';
import type { BillingStore } from '../../functions/domain/ports';
import { InMemoryBillingStore, committed, type RecordSeed } from './billing-doubles';
import { contractImplementations, type TestTable } from './dynamodb';

/**
 * A billing store under test with what the contract needs around it: billing records committed
 * as a redemption's commit writes them (the store's own `billingRecordItem` on DynamoDB). The
 * same cases run over the in-memory double and over DynamoDB Local
 * (test/adapters/billing-store.test.ts).
 */
export interface BillingStoreHarness {
  store: BillingStore;
  /** Commits the record; returns it as the store reads it back. */
  commit(seed: RecordSeed): Promise<BillingRecord>;
}

/** The in-memory double. */
export const inMemoryBillingHarness = (): BillingStoreHarness => {
  const store = new InMemoryBillingStore();
  return { store, commit: async (seed) => store.commit(committed(seed)) };
};

/** DynamoBillingStore on `table`, its records put as the redemption's commit puts them. */
export const dynamoBillingHarness = (table: TestTable): BillingStoreHarness => ({
  store: new DynamoBillingStore(table.db, table.tableName),
  commit: async (seed) => {
    const Item = billingRecordItem(committed(seed));
    await table.db.send(new PutCommand({ TableName: table.tableName, Item, ConditionExpression: 'attribute_not_exists(pk)' }));
    return billingRecordFromItem(Item);
  },
});

/** Both implementations, each made by `open`: in memory at once, DynamoDB on a table of its own (dropped by `dropTables`). */
export const billingImplementations = () => contractImplementations<BillingStoreHarness>(inMemoryBillingHarness, dynamoBillingHarness);
