import { SqsFifoPartialProcessorAsync, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BILLING_POLICY, type BillingPolicy } from '../../domain/billing';
import type { BillingStore, Clock, Redelivery, UsageBiller } from '../../domain/ports';
import { parseBillingMessage } from '../../contracts/queue-messages';
import { METRIC, countMetric, logger } from '../../observability';
import { billMessage, type BillRedemptionDeps } from '../../use-cases/bill-redemption';
import { withObservability } from '../middleware';
import type { ConsumerHandlerOf } from '../consumer';

/** Raised for a body that is no billing message: it goes to the dead-letter queue for an operator. */
export class MalformedBillingMessageError extends Error {}

/** Raised to have the queue deliver a message again later (its visibility set to the retry delay first). */
export class BillingRetryLaterError extends Error {}

/** What the billing function runs on. */
export interface BillingHandlerDeps extends BillRedemptionDeps {
  redelivery: Redelivery;
}

/**
 * The billing function's dependencies, wherever it runs (functions/billing-wiring.ts in Lambda,
 * local/billing.ts): the biller, the table's billing records, the queue's redelivery.
 */
export const billingDeps = (ports: {
  stores: { billing: BillingStore };
  biller: UsageBiller;
  clock: Clock;
  redelivery: Redelivery;
  policy?: BillingPolicy;
}): BillingHandlerDeps => ({
  billing: ports.stores.billing,
  biller: ports.biller,
  clock: ports.clock,
  redelivery: ports.redelivery,
  policy: ports.policy ?? BILLING_POLICY,
});

/**
 * The billing function on the billing FIFO queue (one message per invocation, one customer per
 * message group): claims the message's records into windows and sends each as one meter event.
 * A window Stripe did not take is retried with backoff: the first `queueRetryAttempts` tries by
 * the queue (the message's visibility set to the delay, its customer's group waiting meanwhile,
 * as its next calls would fail the same way), every later one by the billing sweep from the
 * window's next try time, so that the message is consumed and nothing rides on its retention.
 */
export const makeHandler = (deps: BillingHandlerDeps) => {
  const bill = async (record: SQSRecord): Promise<void> => {
    const message = parseBillingMessage(record.body);
    if (!message) throw new MalformedBillingMessageError(`message ${record.messageId} is not a billing message`);
    const result = await billMessage(deps, message);
    if (result.meterEvents > 0) countMetric(METRIC.meterEventsSent, result.meterEvents);
    if (result.billedUnits > 0) countMetric(METRIC.billedUnits, result.billedUnits);
    if (result.failures > 0) countMetric(METRIC.stripeFailures, result.failures);
    if (result.parked > 0) countMetric(METRIC.billingParked, result.parked);
    if (!result.retry) return;
    countMetric(METRIC.billingRetries);
    if (result.retry.attempts > deps.policy.queueRetryAttempts) return;
    await deps.redelivery.after(record, result.retry.delayMs);
    logger.info('billing message to be redelivered', { receive_count: record.attributes.ApproximateReceiveCount, retry_in_ms: result.retry.delayMs });
    throw new BillingRetryLaterError(`Stripe did not take the usage; retry in ${result.retry.delayMs} ms`);
  };
  return withObservability<SQSEvent, SQSBatchResponse>(async (event, context) =>
    // A processor per invocation: it holds the batch's state.
    processPartialResponse(event, bill, new SqsFifoPartialProcessorAsync(), { context }),
  );
};

/** The Billing consumer: the billing records alone of the table, Stripe, and its queue's redelivery. */
export const consumerHandler: ConsumerHandlerOf<ReturnType<typeof makeHandler>> = (ports) =>
  makeHandler(billingDeps({ stores: { billing: ports.stores.billing }, biller: ports.biller, clock: ports.clock, redelivery: ports.redelivery, policy: ports.settings.billingPolicy }));
