// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { serveMcpMethodNotAllowed } from '../../handlers/mcp/endpoint';
import { mcpSessionRoute as entry } from '../../operations/mcp';
import { productionOperationDeps } from '../../wiring';

/** Lambda entry point of DELETE /mcp: mcp_session alone, on the wiring of its needs. */
export const handler = serveMcpMethodNotAllowed(entry, await productionOperationDeps(entry.needs, {}));
