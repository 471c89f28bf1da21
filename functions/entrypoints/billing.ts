import { makeHandler } from '../handlers/queue/billing';
import { productionBillingDeps } from '../wiring';

/** Lambda entry point of the billing function (the billing FIFO queue's event source); reads the Stripe key at cold start, then through a bounded cache. */
export const handler = makeHandler(await productionBillingDeps());
