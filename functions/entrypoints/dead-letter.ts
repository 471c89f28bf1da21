// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/queue/dead-letter';
import { jobsStore, productionConsumerPorts, queueSourcePorts, storesPorts } from '../consumer-wiring';

/** Lambda entry point of the DeadLetter consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('DeadLetter', { queueSource: queueSourcePorts, table: storesPorts({ jobs: jobsStore }) }));
