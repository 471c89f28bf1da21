import { defineRoute } from './operation';
import { ProtectedResourceMetadataBody } from './outputs';
import { MCP_PATH, MCP_PROTECTED_RESOURCE_PATH, PROTECTED_RESOURCE_PATH } from './paths';

const responses = { 200: { description: 'The protected resource metadata.', body: ProtectedResourceMetadataBody }, 500: 'error' } as const;

/**
 * `GET /.well-known/oauth-protected-resource`: RFC 9728 metadata of the whole API (`resource` is
 * the service's origin: every route takes the same bearer tokens), public.
 */
export const oauthProtectedResourceRoute = defineRoute({
  kind: 'route',
  name: 'oauth_protected_resource',
  description:
    'Protected resource metadata (RFC 9728) of this API: bearer tokens in the Authorization header. No authorization server: send the token the operator issued you.',
  auth: 'public',
  http: { method: 'GET', path: PROTECTED_RESOURCE_PATH },
  responses,
  needs: {},
  handler: { kind: 'protected_resource', resourcePath: '' },
});

/**
 * `GET /.well-known/oauth-protected-resource/mcp`: the same for the MCP endpoint, at RFC 9728's
 * path form (`resource` is `<origin>/mcp`), where the MCP endpoint's 401 points MCP clients.
 */
export const mcpProtectedResourceRoute = defineRoute({
  kind: 'route',
  name: 'oauth_protected_resource_mcp',
  description:
    'Protected resource metadata (RFC 9728) of the MCP endpoint: bearer tokens in the Authorization header. No authorization server: send the token the operator issued you.',
  auth: 'public',
  http: { method: 'GET', path: MCP_PROTECTED_RESOURCE_PATH },
  responses,
  needs: {},
  handler: { kind: 'protected_resource', resourcePath: MCP_PATH },
});
