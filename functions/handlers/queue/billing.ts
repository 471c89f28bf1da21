import { SqsFifoPartialProcessorAsync, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { BillingRejectedError, parseBillingMessage } from '../../domain/billing';
import { METRIC, countMetric, logger } from '../../observability';
import { billRedemption, type BillRedemptionDeps } from '../../use-cases/bill-redemption';
import { withObservability } from '../middleware';

/** Raised for a body that is no billing message: it goes to the dead-letter queue for an operator. */
export class MalformedBillingMessageError extends Error {}

/**
 * The billing function on the billing FIFO queue: one Stripe meter event per message.
 * A failure (Stripe 5xx/429/unreachable) is reported; the FIFO processor then fails the rest
 * of the batch too, so a customer's messages keep their order, and the queue redelivers after
 * its visibility timeout, until its redrive policy moves the message to the dead-letter queue.
 */
export const makeHandler = (deps: BillRedemptionDeps) => {
  const bill = async (record: SQSRecord): Promise<void> => {
    const message = parseBillingMessage(record.body);
    if (!message) throw new MalformedBillingMessageError(`message ${record.messageId} is not a billing message`);
    try {
      const outcome = await billRedemption(deps, message);
      if (outcome === 'billed') countMetric(METRIC.meterEventsSent);
      if (outcome === 'failed') countMetric(METRIC.stripeFailures);
    } catch (error) {
      countMetric(METRIC.stripeFailures);
      logger.warn('billing failed; the queue will retry', {
        redemption_id: message.redemption_id,
        receive_count: record.attributes.ApproximateReceiveCount,
        error: error instanceof BillingRejectedError ? error.message : (error as Error),
      });
      throw error;
    }
  };
  return withObservability<SQSEvent, SQSBatchResponse>(async (event, context) =>
    // A processor per invocation: it holds the batch's state.
    processPartialResponse(event, bill, new SqsFifoPartialProcessorAsync(), { context }),
  );
};
