// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/stream/outbox-relay';
import { eventBusPorts, productionConsumerPorts } from '../consumer-wiring';

/** Lambda entry point of the OutboxRelay consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('OutboxRelay', { eventBus: eventBusPorts }));
