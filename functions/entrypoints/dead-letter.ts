import { makeHandler } from '../handlers/queue/dead-letter';
import { productionDeps } from '../wiring';

/** Lambda entry point of the dead-letter queue's consumer. */
export const handler = makeHandler(productionDeps());
