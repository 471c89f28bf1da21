// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/schedule/job-sweeper';
import { chatsStore, jobsStore, productionConsumerPorts, sendsPorts, storesPorts } from '../consumer-wiring';

/** Lambda entry point of the Sweeper consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('Sweeper', { sends: sendsPorts, table: storesPorts({ jobs: jobsStore, chats: chatsStore }) }));
