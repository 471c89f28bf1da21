// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/queue/generator';
import { codesStore, jobsStore, productionConsumerPorts, queueSourcePorts, sendsPorts, storesPorts } from '../consumer-wiring';

/** Lambda entry point of the Generator consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('Generator', { queueSource: queueSourcePorts, sends: sendsPorts, table: storesPorts({ jobs: jobsStore, codes: codesStore }) }));
