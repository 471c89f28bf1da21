// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { catalogHandler } from '../../handlers/http/operation-handler';
import { catalogEntry } from '../../operations';
import { productionOperationDeps } from '../../wiring';

const entry = catalogEntry('mcp')!;

/** Lambda entry point of POST /mcp: mcp, from the whole catalog, on the wiring of its needs. */
export const handler = catalogHandler(entry, await productionOperationDeps(entry.needs));
