import type { AccountReader, BillingRecords } from '../domain/ports';

/** A project's usage in one billing period, as the admin's `usage` command shows it. */
export interface UsageReport {
  project_id: string;
  period: string;
  /** Redemptions committed in the period: the free allotment used, plus one usage record each beyond it. */
  redemptions: number;
  /** Redemptions that cost nothing: within the allotment, or beyond it at a price of 0. */
  free: number;
  /** Redemptions billed to the project: one billing record each. */
  billable: number;
  /** Of the billable: Stripe has them. */
  billed: number;
  /** Of the billable: kept until the project has a Stripe customer. */
  pending: number;
  /** Of the billable: Stripe refused them for good (see the records' reasons). */
  failed: number;
  /** Of the billable: committed, waiting for the billing consumer. */
  queued: number;
}

/**
 * The usage report of a project for a period, from the stored records.
 * 1. Read how much of the period's free allotment is used (its shards).
 * 2. Read the period's usage records (one per redemption beyond the allotment) and count them by state.
 * Read only; the billing index is eventually consistent, so a record marked a moment ago may
 * still show in its former state.
 */
export const usageReport = async (
  deps: { accounts: AccountReader; billing: BillingRecords },
  input: { projectId: string; period: string },
): Promise<UsageReport> => {
  const [freeUsed, records] = await Promise.all([
    deps.accounts.freeAllotmentUsed(input.projectId, input.period),
    deps.billing.billingRecords(input.projectId, input.period),
  ]);
  const count = (state: string) => records.filter((record) => record.state === state).length;
  return {
    project_id: input.projectId,
    period: input.period,
    redemptions: freeUsed + records.length,
    free: freeUsed + count('no_charge'),
    billable: records.length - count('no_charge'),
    billed: count('billed'),
    pending: count('pending'),
    failed: count('failed'),
    queued: count('queued'),
  };
};
