import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type BillingQueue, type ReceivedMessage, type Redelivery } from '../../domain/ports';
import { billingMessageDeduplicationId, billingMessageGroup, type BillingMessage } from '../../contracts/queue-messages';
import { MAX_BATCH_ENTRIES } from './limits';

/**
 * The billing FIFO queue on SQS: the group is the Stripe customer (one meter call per customer
 * at a time), the deduplication id names the records or the window's try
 * (`billingMessageDeduplicationId`), so the same one queued twice within five minutes is queued
 * once; later, the claim and the window's state make a copy a no-op.
 */
export class SqsBillingQueue implements BillingQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(messages: readonly BillingMessage[]): Promise<void> {
    for (let start = 0; start < messages.length; start += MAX_BATCH_ENTRIES) {
      const batch = messages.slice(start, start + MAX_BATCH_ENTRIES);
      const result = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((message, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify(message),
            MessageGroupId: billingMessageGroup(message),
            MessageDeduplicationId: billingMessageDeduplicationId(message),
          })),
        }),
      );
      const failed = result.Failed ?? [];
      if (failed.length > 0) throw new Error(`${failed.length} billing messages not queued (${failed[0]!.Code}: ${failed[0]!.Message ?? ''})`);
    }
  }
}

/** SQS's longest visibility timeout (12 hours). */
const MAX_VISIBILITY_SECONDS = 43_200;

/** The queue URL of an SQS queue ARN (`arn:aws:sqs:<region>:<account>:<name>`). */
export const queueUrlOfArn = (arn: string): string => {
  const [, partition, , region, account, name] = arn.split(':');
  const domain = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${domain}/${account}/${name}`;
};

/**
 * Redelivery by the message's visibility: a received message made visible again after the
 * delay (FIFO: its group waits meanwhile). The event source mapping's consume grant includes
 * ChangeMessageVisibility; the queue is the one the record came from.
 */
export class SqsVisibilityRedelivery implements Redelivery {
  constructor(private readonly sqs: SQSClient) {}

  async after(record: ReceivedMessage, delayMs: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrlOfArn(record.eventSourceARN),
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: Math.min(MAX_VISIBILITY_SECONDS, Math.max(0, Math.ceil(delayMs / 1000))),
      }),
    );
  }
}
