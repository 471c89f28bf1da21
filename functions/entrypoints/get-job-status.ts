import { makeHandler } from '../handlers/http/get-job-status';
import { productionDeps } from '../wiring';

/** Lambda entry point of the get-job-status route. */
export const handler = makeHandler(productionDeps());
