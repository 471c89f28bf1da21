import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { billingMessageGroup, type BillingMessage, type BillingQueue } from '../../domain/billing';
import { MAX_BATCH_ENTRIES } from './limits';

/**
 * The billing FIFO queue on SQS: the group is the Stripe customer (one call per customer at a
 * time), the deduplication id the redemption id (a record forwarded twice within five minutes
 * is dropped by SQS; later, the billing function finds it billed or Stripe answers duplicate).
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
            MessageDeduplicationId: message.redemption_id,
          })),
        }),
      );
      const failed = result.Failed ?? [];
      if (failed.length > 0) throw new Error(`${failed.length} billing messages not queued (${failed[0]!.Code}: ${failed[0]!.Message ?? ''})`);
    }
  }
}
