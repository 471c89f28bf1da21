// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { serveHealth } from '../../handlers/http/health';
import { healthRoute as entry } from '../../operations/health';
import { productionOperationDeps, tableNeed } from '../../wiring';

/** Lambda entry point of GET /health: health alone, on the wiring of its needs. */
export const handler = serveHealth(entry, await productionOperationDeps(entry.needs, { table: tableNeed }));
