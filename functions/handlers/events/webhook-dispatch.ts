import type { EventBridgeEvent } from 'aws-lambda';
import { logger } from '../../observability';
import { withObservability } from '../middleware';
import { dispatchWebhooks, type DispatchWebhooksDeps, type DispatchWebhooksResult } from '../../use-cases/dispatch-webhooks';
import type { ConsumerHandlerOf } from '../consumer';

/**
 * The webhook-dispatch Lambda, target of the EventBridge rules of the access_code.* types: the
 * event's `detail` is the envelope. Any error is thrown, so the rule's retry policy and DLQ keep
 * the event; the dispatch is idempotent, so a retry records nothing twice.
 */
export const makeHandler = (deps: DispatchWebhooksDeps) =>
  withObservability(async (event: EventBridgeEvent<string, unknown>): Promise<DispatchWebhooksResult> => {
    const result = await dispatchWebhooks(deps, event.detail);
    logger.info('webhook deliveries dispatched', {
      event_id: result.eventId,
      event_type: event['detail-type'],
      deliveries: result.deliveries.length,
      created: result.deliveries.filter((d) => d.created).length,
    });
    return result;
  });

/** The WebhookDispatch consumer. */
export const consumerHandler: ConsumerHandlerOf<ReturnType<typeof makeHandler>> = (ports) =>
  makeHandler({ endpoints: ports.webhooks.endpoints, scheduler: ports.queues.webhookDelivery, clock: ports.clock });
