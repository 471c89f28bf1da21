// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { catalogHandler } from '../../handlers/http/operation-handler';
import { oauthProtectedResourceRoute as entry } from '../../operations/oauth-protected-resource';
import { productionOperationDeps } from '../../wiring';

/** Lambda entry point of GET /.well-known/oauth-protected-resource: oauth_protected_resource alone, on the wiring of its needs. */
export const handler = catalogHandler(entry, await productionOperationDeps(entry.needs, {}));
