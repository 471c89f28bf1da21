// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/queue/billing';
import { stripePorts } from '../billing-wiring';
import { billingStore, productionConsumerPorts, queueSourcePorts, storesPorts } from '../consumer-wiring';

/** Lambda entry point of the Billing consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('Billing', { queueSource: queueSourcePorts, stripe: stripePorts, table: storesPorts({ billing: billingStore }) }));
