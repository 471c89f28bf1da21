import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { queuedRecordOfItem, recordsMessages, type BillingRecord } from '../../domain/billing';
import { type BillingQueue } from '../../domain/ports';
import { logger } from '../../observability';
import { withObservability } from '../middleware';
import type { StreamHandler } from './outbox-relay';
import type { ConsumerHandlerOf } from '../consumer';

/** What the forwarder needs. */
export interface BillingForwarderDeps {
  billing: BillingQueue;
}

type QueuedRecord = Pick<BillingRecord, 'redemptionId' | 'stripeCustomerId' | 'period'>;

/**
 * The billing record a stream record carries when it is billing work: a billing record written
 * (INSERT by the redemption's commit, MODIFY by a requeue) in state `queued`. Everything else,
 * including the later moves (sending, billed, parked), is not. In AWS the event source
 * mapping's filter already passes only these; the check here keeps the local poller honest.
 */
export const queuedRecordOf = (record: DynamoDBRecord): QueuedRecord | undefined => {
  const image = record.dynamodb?.NewImage;
  if ((record.eventName !== 'INSERT' && record.eventName !== 'MODIFY') || image?.type?.S !== 'billing_record' || image.state?.S !== 'queued') return undefined;
  return queuedRecordOfItem(unmarshall(image as Record<string, AttributeValue>));
};

/**
 * The billing forwarder: the table's stream → the billing FIFO queue, aggregated.
 * 1. Pick the billing records of the batch that became `queued`; ignore every other record.
 * 2. Group them by customer and period, at most MAX_WINDOW_SIZE a message: each message becomes
 *    one meter event (value = its redemptions), so a burst reaches Stripe in a few calls.
 * 3. A failed send fails the whole batch, retried by the event source mapping: a record sent
 *    twice is claimed once (the claim is conditional on `queued`), and one the stream gives up
 *    on is claimed by the billing sweep.
 */
export const makeHandler = (deps: BillingForwarderDeps): StreamHandler =>
  withObservability<DynamoDBStreamEvent, DynamoDBBatchResponse>(async (event) => {
    const queued = event.Records.flatMap((record) => queuedRecordOf(record) ?? []);
    const messages = recordsMessages(queued);
    try {
      if (messages.length > 0) await deps.billing.send(messages);
    } catch (error) {
      logger.error('billing records not forwarded; the batch will be retried', { records: queued.length, error: error as Error });
      const first = event.Records[0]?.dynamodb?.SequenceNumber;
      return { batchItemFailures: first ? [{ itemIdentifier: first }] : [] };
    }
    return { batchItemFailures: [] };
  });

/** The BillingForwarder consumer. */
export const consumerHandler: ConsumerHandlerOf<StreamHandler> = (ports) => makeHandler({ billing: ports.queues.billing });
