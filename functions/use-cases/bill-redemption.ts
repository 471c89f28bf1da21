import { BillingRejectedError, type BillingLedger, type BillingMessage, type UsageBiller, type UsageRef } from '../domain/billing';
import type { Clock } from '../domain/ports';
import { logger } from '../observability';

/** Dependencies of the billing consumer. */
export interface BillRedemptionDeps {
  biller: UsageBiller;
  ledger: BillingLedger;
  clock: Clock;
}

/** What became of one billing message. */
export type BillingOutcome = 'billed' | 'already-billed' | 'pending' | 'failed';

/**
 * Bills one over-allotment redemption; runs for each message of the billing queue, at least once.
 * 1. Already marked billed → nothing to do (a redelivery, possibly after Stripe's 24-hour
 *    identifier window, so Stripe is not asked again).
 * 2. No Stripe customer → mark pending and stop: the usage is kept, never dropped, and is sent
 *    again once the project has a customer.
 * 3. Report the usage, with the redemption id as the identifier. A retryable error
 *    (`BillingUnavailableError`) propagates: nothing is marked and the queue retries with
 *    backoff. A crash after Stripe took it but before step 4 means a redelivery, which Stripe
 *    answers as a duplicate: success.
 * 4. Mark billed. A refusal for good (`BillingRejectedError`) is marked failed and logged
 *    instead, and the message is done: retrying a 4xx cannot help.
 */
export const billRedemption = async (deps: BillRedemptionDeps, message: BillingMessage): Promise<BillingOutcome> => {
  const ref: UsageRef = { redemptionId: message.redemption_id, projectId: message.project_id, period: message.period };
  if (await deps.ledger.isBilled(ref.redemptionId)) return 'already-billed';
  if (message.stripe_customer_id === null) {
    await deps.ledger.markPending(ref, deps.clock.now());
    return 'pending';
  }
  try {
    await deps.biller.reportUsage({
      redemptionId: ref.redemptionId,
      stripeCustomerId: message.stripe_customer_id,
      timestamp: new Date(message.redeemed_at),
      value: 1,
    });
  } catch (error) {
    if (!(error instanceof BillingRejectedError)) throw error;
    logger.error('billing refused', { redemption_id: ref.redemptionId, project_id: ref.projectId, period: ref.period, status: error.status, code: error.code, reason: error.message });
    await deps.ledger.markFailed(ref, error.message, deps.clock.now());
    return 'failed';
  }
  await deps.ledger.markBilled(ref, deps.clock.now());
  return 'billed';
};
