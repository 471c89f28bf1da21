import { makeHandler } from '../handlers/http/preview-access-code-cost';
import { productionDeps } from '../wiring';

/** Lambda entry point of `POST /v1/access-codes/preview`. */
export const handler = makeHandler(productionDeps());
