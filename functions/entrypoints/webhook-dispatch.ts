// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/events/webhook-dispatch';
import { productionConsumerPorts, sendsPorts, storesPorts } from '../consumer-wiring';
import { webhooksPorts } from '../wiring';

/** Lambda entry point of the WebhookDispatch consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('WebhookDispatch', { sends: sendsPorts, table: storesPorts({}), webhooks: webhooksPorts }));
