import { makeHandler } from '../handlers/http/list-access-codes';
import { productionDeps } from '../wiring';

/** Lambda entry point of the list-access-codes route. */
export const handler = makeHandler(productionDeps());
