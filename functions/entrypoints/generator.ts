import { makeHandler } from '../handlers/queue/generator';
import { productionGeneratorDeps } from '../wiring';

/** Lambda entry point of the generator (the generation queue's event source). */
export const handler = makeHandler(productionGeneratorDeps());
