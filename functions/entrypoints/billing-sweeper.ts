// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.
import { consumerHandler } from '../handlers/schedule/billing-sweeper';
import { accountsStore, billingStore, productionConsumerPorts, sendsPorts, storesPorts } from '../consumer-wiring';

/** Lambda entry point of the BillingSweeper consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */
export const handler = consumerHandler(await productionConsumerPorts('BillingSweeper', { sends: sendsPorts, table: storesPorts({ billing: billingStore, accounts: accountsStore }) }));
