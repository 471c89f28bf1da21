import { makeHandler } from '../handlers/http/bulk-generate-access-codes';
import { productionDeps } from '../wiring';

/** Lambda entry point of the bulk-generate-access-codes route. */
export const handler = makeHandler(productionDeps());
