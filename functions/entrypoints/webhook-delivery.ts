// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/queue/webhook-delivery';
import { productionConsumerPorts, queueSourcePorts, sendsPorts, storesPorts } from '../consumer-wiring';
import { webhooksPorts } from '../wiring';

/** Lambda entry point of the WebhookDelivery consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('WebhookDelivery', { queueSource: queueSourcePorts, sends: sendsPorts, table: storesPorts({}), webhooks: webhooksPorts }));
