import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { webhookDeliveryMessage } from '../../contracts/queue-messages';
import type { WebhookRetryScheduler } from '../../domain/ports';
import { clampDelay } from './limits';

/**
 * The webhook delivery queue on SQS, a fair queue: each message carries its endpoint as
 * `MessageGroupId` (a standard queue with groups), so that when one endpoint builds a backlog
 * SQS hands the deliverer the other endpoints' messages first. Delays are at most SQS's 15
 * minutes; longer retries are never sent here (the sweep queues them when due).
 */
export class SqsWebhookRetryScheduler implements WebhookRetryScheduler {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async scheduleRetry(deliveryId: string, delaySeconds: number, target: { attempt?: number; endpointId?: string } = {}): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(webhookDeliveryMessage(deliveryId, target)),
        DelaySeconds: clampDelay(delaySeconds),
        // Without an endpoint (never sent so by this service) the message is in no group: still delivered.
        ...(target.endpointId === undefined ? {} : { MessageGroupId: target.endpointId }),
      }),
    );
  }
}
