// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/schedule/expiry-sweeper';
import { expiryStore, productionConsumerPorts, storesPorts } from '../consumer-wiring';

/** Lambda entry point of the ExpirySweeper consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('ExpirySweeper', { table: storesPorts({ expiry: expiryStore }) }));
