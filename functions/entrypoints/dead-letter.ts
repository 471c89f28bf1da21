import { makeHandler } from '../handlers/queue/dead-letter';
import { productionDeadLetterDeps } from '../wiring';

/** Lambda entry point of the pipeline dead-letter queue's consumer. */
export const handler = makeHandler(productionDeadLetterDeps());
