import { formatMinorUnits } from '../domain/money';
import type { AccountReader, BillingStore } from '../domain/ports';

/** A project's usage in one billing period, as the admin's `usage` command shows it. */
export interface UsageReport {
  project_id: string;
  period: string;
  /** The project's unit price now, and whether it bills overage at all (false at a price of 0). */
  unit_price: string;
  currency: string;
  bills_overage: boolean;
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
  /** Of the billable: committed, not yet in a meter event. */
  queued: number;
  /** Of the billable: in a meter event on its way to Stripe (retrying ones included). */
  sending: number;
  /** Of the sending: in a meter event Stripe has not taken yet after at least one try (alarmed). */
  retrying: number;
  /** When the oldest of the retrying first failed, and the last error; null when none retries. */
  retrying_since: string | null;
  last_error: string | null;
  /** Of the billable: Stripe refused the payload for good (alarmed); `admin billing replay` sends them again. */
  parked: number;
}

/**
 * The usage report of a project for a period, from the stored records.
 * 1. Read the project (its price), how much of the period's free allotment is used (its shards),
 *    and the period's usage records (one per redemption beyond the allotment).
 * 2. Count the records by state; read the windows of those on their way, for the retries.
 * Read only; the billing index is eventually consistent, so a record moved a moment ago may
 * still show in its former state.
 */
export const usageReport = async (
  deps: { accounts: AccountReader; billing: Pick<BillingStore, 'billingRecords' | 'windows'> },
  input: { projectId: string; period: string },
): Promise<UsageReport> => {
  const [project, freeUsed, records] = await Promise.all([
    deps.accounts.findProject(input.projectId),
    deps.accounts.freeAllotmentUsed(input.projectId, input.period),
    deps.billing.billingRecords(input.projectId, input.period),
  ]);
  const count = (state: string) => records.filter((record) => record.state === state).length;
  const sending = records.filter((record) => record.state === 'sending' && record.windowId);
  const failing = (await deps.billing.windows(sending.map((record) => record.windowId!))).filter((window) => window.state === 'sending' && window.attempts > 0);
  const failingIds = new Set(failing.map((window) => window.id));
  const oldest = failing.reduce<(typeof failing)[number] | undefined>((first, window) => (!first || (window.firstFailureAt ?? '') < (first.firstFailureAt ?? '') ? window : first), undefined);
  const latest = failing.reduce<(typeof failing)[number] | undefined>((last, window) => (!last || window.nextAttemptAt > last.nextAttemptAt ? window : last), undefined);
  const tier = project?.tier ?? { freeAllotment: 0, unitPriceMinor: 0, currency: 'USD' };
  return {
    project_id: input.projectId,
    period: input.period,
    unit_price: formatMinorUnits(tier.unitPriceMinor, tier.currency),
    currency: tier.currency,
    bills_overage: tier.unitPriceMinor > 0,
    redemptions: freeUsed + records.length,
    free: freeUsed + count('no_charge'),
    billable: records.length - count('no_charge'),
    billed: count('billed'),
    pending: count('pending'),
    queued: count('queued'),
    sending: sending.length,
    retrying: sending.filter((record) => failingIds.has(record.windowId!)).length,
    retrying_since: oldest?.firstFailureAt ?? null,
    last_error: latest?.lastError ?? null,
    parked: count('parked'),
  };
};
