// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/queue/billing';
import { stripePorts } from '../billing-wiring';
import { productionConsumerPorts, queueSourcePorts, tablePorts } from '../wiring';

/** Lambda entry point of the Billing consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('Billing', { queueSource: queueSourcePorts, stripe: stripePorts, table: tablePorts }));
