import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { billingMessageOfRecord, type BillingMessage, type BillingQueue } from '../../domain/billing';
import { logger } from '../../observability';
import { withObservability } from '../middleware';
import type { StreamHandler } from './outbox-relay';

/** What the forwarder needs. */
export interface BillingForwarderDeps {
  billing: BillingQueue;
}

/**
 * The billing message a stream record carries: a billing record written (INSERT by the
 * redemption's commit, MODIFY by `requeuePending`) in state `queued`. Everything else,
 * including the later marks (billed, failed), is not billing work. In AWS the event source
 * mapping's filter already passes only these; the check here keeps the local poller honest.
 */
export const billingMessageOf = (record: DynamoDBRecord): BillingMessage | undefined => {
  const image = record.dynamodb?.NewImage;
  if ((record.eventName !== 'INSERT' && record.eventName !== 'MODIFY') || image?.type?.S !== 'billing_record' || image.state?.S !== 'queued') return undefined;
  if (record.eventName === 'MODIFY' && record.dynamodb?.OldImage?.state?.S === 'queued') return undefined;
  return billingMessageOfRecord(unmarshall(image as Record<string, AttributeValue>));
};

/**
 * The billing forwarder: the table's stream → the billing FIFO queue.
 * 1. Pick the billing records that became `queued`; ignore every other record.
 * 2. Send each as a billing message (its customer's group, deduplicated by redemption id).
 * 3. Report failed records so the event source mapping retries from the first of them; a
 *    record sent twice is dropped by the queue's deduplication, or by Stripe's identifier.
 */
export const makeHandler = (deps: BillingForwarderDeps): StreamHandler => {
  const forward = async (record: DynamoDBRecord): Promise<void> => {
    const message = billingMessageOf(record);
    if (!message) return;
    try {
      await deps.billing.send([message]);
    } catch (error) {
      logger.error('billing record not forwarded; it will be retried', { redemption_id: message.redemption_id, error: error as Error });
      throw error;
    }
  };
  return withObservability<DynamoDBStreamEvent, DynamoDBBatchResponse>(async (event, context) =>
    processPartialResponse(event, forward, new BatchProcessor(EventType.DynamoDBStreams), { context }),
  );
};
