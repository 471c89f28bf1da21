// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { catalogHandler } from '../../handlers/http/operation-handler';
import { catalogEntry } from '../../operations';
import { productionOperationDeps } from '../../wiring';

const entry = catalogEntry('openapi_document')!;

/** Lambda entry point of GET /v1/openapi.json: openapi_document, from the whole catalog, on the wiring of its needs. */
export const handler = catalogHandler(entry, await productionOperationDeps(entry.needs, {}));
