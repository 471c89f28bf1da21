import { logger } from '../../observability';
import { withObservability } from '../middleware';
import { sweepWebhookDeliveries, type SweepWebhookDeliveriesDeps } from '../../use-cases/deliver-webhook';
import type { ConsumerHandlerOf } from '../consumer';

/** The overdue-webhook-delivery sweeper Lambda, run every minute by EventBridge Scheduler. */
export const makeHandler = (deps: SweepWebhookDeliveriesDeps) =>
  withObservability(async (): Promise<{ queued: number }> => {
    const result = await sweepWebhookDeliveries(deps);
    if (result.queued > 0) logger.info('due webhook deliveries queued', { queued: result.queued });
    return result;
  });

/** The WebhookSweeper consumer. */
export const consumerHandler: ConsumerHandlerOf<ReturnType<typeof makeHandler>> = (ports) =>
  makeHandler({ store: ports.webhooks.deliveries, scheduler: ports.queues.webhookDelivery, clock: ports.clock });
