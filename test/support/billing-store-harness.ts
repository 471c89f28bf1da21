import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { DynamoBillingStore, billingRecordFromItem, billingRecordItem } from '../../functions/adapters/dynamodb/billing-store';
import { billingPeriodOf } from '../../functions/domain/billing-period';
import type { BillingRecord } from '../../functions/domain/billing';
import { ID_PREFIX } from '../../functions/domain/ids';
import type { BillingStore } from '../../functions/domain/ports';
import { InMemoryBillingStore, type CommittedRecord } from './billing-doubles';
import { createTestTable, type TestTable } from './dynamodb';

/** What a contract case commits: one billed redemption of a project at `at`. */
export interface RecordSeed {
  projectId: string;
  /** The project's Stripe customer at commit time: `queued` for it, `pending` without one. */
  customer: string | null;
  at: Date;
  /** `no_charge`: beyond the allotment at a price of 0. */
  noCharge?: boolean;
  /** Defaults to a fresh ULID of `at`, as the commit mints it. */
  redemptionId?: string;
}

/** A redemption id made at `at`, as a redemption's commit mints it. */
export const redemptionIdAt = (at: Date): string => `${ID_PREFIX.redemption}_${ulid(at.getTime())}`;

const committed = (seed: RecordSeed): CommittedRecord => ({
  redemptionId: seed.redemptionId ?? redemptionIdAt(seed.at),
  projectId: seed.projectId,
  period: billingPeriodOf(seed.at),
  stripeCustomerId: seed.customer,
  state: seed.noCharge ? 'no_charge' : seed.customer ? 'queued' : 'pending',
  at: seed.at.toISOString(),
});

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
export const billingImplementations = () => {
  const tables: TestTable[] = [];
  return {
    implementations: [
      ['in memory', async () => inMemoryBillingHarness()],
      [
        'DynamoDB',
        async () => {
          const table = await createTestTable();
          tables.push(table);
          return dynamoBillingHarness(table);
        },
      ],
    ] as Array<[string, () => Promise<BillingStoreHarness>]>,
    dropTables: async () => {
      await Promise.all(tables.map((table) => table.drop()));
    },
  };
};
