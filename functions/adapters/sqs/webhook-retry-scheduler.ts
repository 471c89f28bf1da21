import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { webhookDeliveryMessage } from '../../contracts/queue-messages';
import type { WebhookRetryScheduler } from '../../domain/webhook-ports';
import { clampDelay } from './limits';

/**
 * The webhook delivery queue on SQS. A delay past SQS's 15-minute cap is sent at the cap: the
 * message then arrives early and `deliverWebhook` puts it back with the remaining delay, so a
 * 10-hour retry is about 40 hops of one small message each, with no other service involved.
 */
export class SqsWebhookRetryScheduler implements WebhookRetryScheduler {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async scheduleRetry(deliveryId: string, delaySeconds: number): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(webhookDeliveryMessage(deliveryId)),
        DelaySeconds: clampDelay(delaySeconds),
      }),
    );
  }
}
