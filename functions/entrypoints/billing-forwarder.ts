// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/stream/billing-forwarder';
import { productionConsumerPorts, sendsPorts } from '../consumer-wiring';

/** Lambda entry point of the BillingForwarder consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('BillingForwarder', { sends: sendsPorts }));
