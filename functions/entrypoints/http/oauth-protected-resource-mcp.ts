// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { serveProtectedResource } from '../../handlers/mcp/endpoint';
import { mcpProtectedResourceRoute as entry } from '../../operations/oauth-protected-resource';
import { productionOperationDeps } from '../../wiring';

/** Lambda entry point of GET /.well-known/oauth-protected-resource/mcp: oauth_protected_resource_mcp alone, on the wiring of its needs. */
export const handler = serveProtectedResource(entry, await productionOperationDeps(entry.needs, {}));
