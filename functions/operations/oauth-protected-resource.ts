import { makeProtectedResourceHandler, PROTECTED_RESOURCE_PATH } from '../handlers/mcp/endpoint';
import { defineRoute } from './operation';

/** `GET /.well-known/oauth-protected-resource`: RFC 9728 metadata of the MCP endpoint, public. */
export const oauthProtectedResourceRoute = defineRoute({
  kind: 'route',
  name: 'oauth_protected_resource',
  description: 'Protected resource metadata (RFC 9728) of the MCP endpoint: bearer tokens in the Authorization header.',
  auth: 'public',
  http: { method: 'GET', path: PROTECTED_RESOURCE_PATH },
  needs: {},
  makeHandler: () => makeProtectedResourceHandler(),
});
