import { makeHandler } from '../handlers/http/health';
import { productionHealthDeps } from '../wiring';

/** Lambda entry point of `GET /health`. */
export const handler = makeHandler(productionHealthDeps());
