import { makeHandler } from '../handlers/queue/deliverer';
import { productionDelivererDeps } from '../wiring';

/** Lambda entry point of the deliverer (the delivery queue's event source). */
export const handler = makeHandler(await productionDelivererDeps());
