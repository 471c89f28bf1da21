// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { serveProtectedResource } from '../../handlers/mcp/endpoint';
import { oauthProtectedResourceRoute as entry } from '../../operations/oauth-protected-resource';
import { productionOperationDeps } from '../../wiring';

/** Lambda entry point of GET /.well-known/oauth-protected-resource: oauth_protected_resource alone, on the wiring of its needs. */
export const handler = serveProtectedResource(entry, await productionOperationDeps(entry.needs, {}));
