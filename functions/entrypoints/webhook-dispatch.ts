import { systemClock } from '../domain/ports';
import { makeHandler } from '../handlers/events/webhook-dispatch';
import { productionWebhookPorts, webhookDispatchDeps } from '../wiring';

/** Lambda entry point of the webhook dispatcher (target of the EVENT_RULES rules). */
export const handler = makeHandler(webhookDispatchDeps(productionWebhookPorts(), systemClock));
