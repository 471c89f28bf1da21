import { systemClock } from '../domain/ports';
import { makeHandler } from '../handlers/queue/webhook-delivery';
import { productionWebhookPorts, webhookDeliveryDeps } from '../wiring';

/** Lambda entry point of the webhook deliverer (the webhook delivery queue's event source). */
export const handler = makeHandler(webhookDeliveryDeps(productionWebhookPorts(), systemClock));
