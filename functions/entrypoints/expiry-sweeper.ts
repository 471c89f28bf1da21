// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/schedule/expiry-sweeper';
import { productionConsumerPorts, tablePorts } from '../wiring';

/** Lambda entry point of the ExpirySweeper consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('ExpirySweeper', { table: tablePorts }));
