import * as v from 'valibot';
import { parseEnv } from '../contracts/env';
import { catalogHandler } from '../handlers/http/operation-handler';
import { CATALOG, OPERATION_ENV } from '../operations';
import { productionOperationDeps } from '../wiring';

// One entry point for every HTTP function, told by CDK which catalog entry it serves (OPERATION),
// rather than one file per operation: adding a route stays one catalog entry plus its use case.
// Bundling does not favour per-operation files here: wiring.ts already pulls every SDK client
// into each bundle, the use cases are a few kB, and the identical bundles share one asset.
// What differs per function is built at cold start from the entry's `needs` only, so a function
// never builds a client (or reads a secret) it has no grant for.
const entry = (() => {
  const { OPERATION } = parseEnv(v.object({ [OPERATION_ENV]: v.picklist(CATALOG.map((e) => e.name)) }));
  return CATALOG.find((e) => e.name === OPERATION)!;
})();

/** Lambda entry point of every HTTP route: the catalog entry named by OPERATION. */
export const handler = catalogHandler(entry, await productionOperationDeps(entry.needs));
