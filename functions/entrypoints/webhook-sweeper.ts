import { systemClock } from '../domain/ports';
import { makeHandler } from '../handlers/schedule/webhook-sweeper';
import { productionWebhookPorts } from '../wiring';

/** Lambda entry point of the overdue-webhook-delivery sweeper (every minute). */
export const handler = makeHandler({ store: productionWebhookPorts().deliveries, scheduler: productionWebhookPorts().scheduler, clock: systemClock });
