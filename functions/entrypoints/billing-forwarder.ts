import { makeHandler } from '../handlers/stream/billing-forwarder';
import { productionBillingForwarderDeps } from '../wiring';

/** Lambda entry point of the billing forwarder (DynamoDB Streams event source, filtered to queued billing records). */
export const handler = makeHandler(productionBillingForwarderDeps());
