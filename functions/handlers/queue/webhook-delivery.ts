import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { METRIC, countMetric, logger, metrics } from '../../observability';
import { withObservability } from '../middleware';
import { deliverWebhook, type DeliverWebhookDeps } from '../../use-cases/deliver-webhook';
import { parseWebhookDeliveryMessage } from '../../contracts/queue-messages';
import type { ConsumerHandlerOf } from '../consumer';

/**
 * The webhook-delivery Lambda: SQS batches of delivery messages, one attempt each (in parallel
 * within a batch; `deliverWebhook` caps each endpoint's sends in flight in this environment). Failed
 * records are reported one by one (ReportBatchItemFailures) so that only they come back; a body
 * that is not a delivery message is logged and dropped, since retrying it can never succeed.
 */
export const makeHandler = (deps: DeliverWebhookDeps) =>
  withObservability(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(
      event,
      async (record: SQSRecord) => {
        const message = parseWebhookDeliveryMessage(record.body);
        if (!message) {
          logger.error('dropping a message that is not a webhook delivery message', { message_id: record.messageId });
          return;
        }
        try {
          const result = await deliverWebhook(deps, message.delivery_id, {
            ...(message.attempt === undefined ? {} : { attempt: message.attempt }),
            ...(message.endpoint_id === undefined ? {} : { endpointId: message.endpoint_id }),
          });
          if (result.outcome === 'attempted') {
            countMetric(METRIC.webhookDeliveries);
            if (result.attempt.outcome !== 'succeeded') countMetric(METRIC.webhookFailures);
            metrics.addMetric(METRIC.webhookLatency, MetricUnit.Milliseconds, result.attempt.durationMs);
            if (result.endpointDisabled) {
              logger.warn('webhook endpoint disabled', { delivery_id: message.delivery_id, reason: result.endpointDisabled.reason });
            }
          }
        } catch (error) {
          logger.error('webhook delivery failed; the queue will redeliver it', {
            message_id: record.messageId,
            receive_count: record.attributes.ApproximateReceiveCount,
            delivery_id: message.delivery_id,
            error: error as Error,
          });
          throw error;
        }
      },
      new BatchProcessor(EventType.SQS),
      { context },
    ),
  );

/** The WebhookDelivery consumer. */
export const consumerHandler: ConsumerHandlerOf<ReturnType<typeof makeHandler>> = (ports) =>
  makeHandler({
    store: ports.webhooks.deliveries,
    guard: ports.webhooks.guard,
    sender: ports.webhooks.sender,
    scheduler: ports.queues.webhookDelivery,
    clock: ports.clock,
    ...(ports.settings.webhookGate ? { gate: ports.settings.webhookGate } : {}),
  });
