import { DynamoBillingStore } from '../../functions/adapters/dynamodb/billing-store';
import { DynamoCodeStore } from '../../functions/adapters/dynamodb/code-store';
import { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store';
import { DynamoRedemptionStore } from '../../functions/adapters/dynamodb/redemption-store';
import type { EventEnvelope } from '../../functions/contracts/events';
import type { BillingStore, RedemptionStore } from '../../functions/domain/ports';
import { InMemoryAccountStore } from './account-doubles';
import { contractImplementations, outboxEvents, type TestTable } from './dynamodb';
import { inMemoryRedemptionStores, seedCodes, type CodeOwner } from './redemption-doubles';

/**
 * A redemption store under test with what its contract reads besides the port: codes stored as
 * generation stores them, and what a commit writes for others to read (the free allotment as
 * the account store counts it, the usage records as the billing store reads them, the
 * access_code.redeemed events of the outbox). The same cases run over the in-memory double and
 * DynamoDB Local (test/adapters/redemption-store-contract.test.ts).
 */
export interface RedemptionStoreHarness {
  store: RedemptionStore;
  /** Codes of a new job of `owner`'s plan (`seedCodes`). */
  seed(owner: CodeOwner, options: { quantity: number; expiresAt?: Date | null; generated?: boolean }): Promise<{ jobId: string; codes: string[] }>;
  /** Units of a project's free allotment used in a period (`AccountReader.freeAllotmentUsed`). */
  allotmentUsed(projectId: string, period: string): Promise<number>;
  /** The usage records of redemptions beyond the allotment. */
  billing: Pick<BillingStore, 'records'>;
  /** The access_code.redeemed events committed for a project. */
  redeemedEvents(projectId: string): Promise<EventEnvelope[]>;
}

/** The in-memory double, its free units counted in an in-memory account store. */
export const inMemoryRedemptionHarness = (): RedemptionStoreHarness => {
  const accounts = new InMemoryAccountStore();
  const stores = inMemoryRedemptionStores(accounts);
  return {
    store: stores.redemptions,
    seed: (owner, options) => seedCodes(stores, owner, options),
    allotmentUsed: (projectId, period) => accounts.freeAllotmentUsed(projectId, period),
    billing: stores.billing,
    redeemedEvents: async (projectId) => stores.table.events.filter((event) => event.type === 'access_code.redeemed' && event.project_id === projectId),
  };
};

/** DynamoRedemptionStore on `table`. */
export const dynamoRedemptionHarness = (table: TestTable): RedemptionStoreHarness => {
  const stores = { jobs: new DynamoJobStore(table.db, table.tableName), codes: new DynamoCodeStore(table.db, table.tableName) };
  return {
    store: new DynamoRedemptionStore(table.db, table.tableName),
    seed: (owner, options) => seedCodes(stores, owner, options),
    allotmentUsed: (projectId, period) => table.accounts.freeAllotmentUsed(projectId, period),
    billing: new DynamoBillingStore(table.db, table.tableName),
    redeemedEvents: (projectId) => outboxEvents(table, (event) => event.type === 'access_code.redeemed' && event.project_id === projectId),
  };
};

/**
 * Both implementations, each made by `open`: in memory at once, DynamoDB on a table of its own
 * (dropped by `dropTables`) whose client raises AWS's transaction conflicts, as the other
 * redemption suites' do, so that racing commits take the store's retry paths.
 */
export const redemptionImplementations = () => contractImplementations<RedemptionStoreHarness>(inMemoryRedemptionHarness, dynamoRedemptionHarness, { awsBehaviour: {} });
