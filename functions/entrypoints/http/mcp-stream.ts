// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { serveMcpMethodNotAllowed } from '../../handlers/mcp/endpoint';
import { mcpStreamRoute as entry } from '../../operations/mcp';
import { productionOperationDeps } from '../../wiring';

/** Lambda entry point of GET /mcp: mcp_stream alone, on the wiring of its needs. */
export const handler = serveMcpMethodNotAllowed(entry, await productionOperationDeps(entry.needs, {}));
