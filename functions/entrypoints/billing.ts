import { productionBillingDeps } from '../billing-wiring';
import { makeHandler } from '../handlers/queue/billing';

/** Lambda entry point of the billing function (the billing FIFO queue's event source); starts reading the Stripe key at cold start, then reads it through a bounded cache. */
export const handler = makeHandler(productionBillingDeps());
