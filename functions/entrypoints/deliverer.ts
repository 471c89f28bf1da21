// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/queue/deliverer';
import { chatsStore, codesStore, jobsStore, productionConsumerPorts, queueSourcePorts, sendsPorts, storesPorts } from '../consumer-wiring';
import { botPorts } from '../wiring';

/** Lambda entry point of the Deliverer consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('Deliverer', { bot: botPorts, queueSource: queueSourcePorts, sends: sendsPorts, table: storesPorts({ jobs: jobsStore, codes: codesStore, chats: chatsStore }) }));
