import { makeHandler } from '../handlers/queue/generator';
import { productionPipelineDeps } from '../wiring';

/** Lambda entry point of the generator (SQS event source). */
export const handler = makeHandler(await productionPipelineDeps());
