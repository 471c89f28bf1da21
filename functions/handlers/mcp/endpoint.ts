import type { CatalogEntry } from '../../operations/operation';
import { baseUrlOf, jsonResponse, routeSpec, withHttpMiddleware, type HttpHandler } from '../http/http-api';

// What the MCP endpoint's routes need without the MCP SDK: their 405s and the protected resource
// metadata. The SDK (and zod, ajv) comes with mcp-handler.ts, which serve-mcp.ts loads when
// POST /mcp is first called: these routes' functions do not carry it.

/**
 * `GET /mcp` and `DELETE /mcp`: a stateless server has no SSE stream to resume and no session to
 * end, so it answers 405 as the SDK's stateless servers do (clients take that as "no stream").
 */
export const makeMcpMethodNotAllowedHandler = (): HttpHandler =>
  withHttpMiddleware(async () =>
    jsonResponse(405, { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null }, { allow: 'POST' }),
  );

/**
 * The protected resource metadata (RFC 9728) of the resource at `resourcePath` ('' for the whole
 * API, '/mcp' for the MCP endpoint), for the caller's base URL. It lists no authorization server
 * on purpose: this service issues no OAuth tokens (its operator issues bearer tokens with the admin
 * CLI), and a listed server that cannot issue one would send a spec-following client into an
 * OAuth flow that cannot succeed. Without one, the client is left with what the metadata and the
 * 401 say: send the bearer token you were given, in the Authorization header.
 */
export const protectedResourceMetadata = (baseUrl: string, resourcePath: string) => ({
  resource: `${baseUrl}${resourcePath}`,
  bearer_methods_supported: ['header'],
  resource_name: 'MemberPass access codes',
  resource_documentation: `${baseUrl}/v1/openapi.json`,
});

/** `GET /.well-known/oauth-protected-resource[/mcp]`: public, tells clients how to authenticate. */
export const makeProtectedResourceHandler = (resourcePath: string): HttpHandler =>
  withHttpMiddleware(async (event) =>
    jsonResponse(200, protectedResourceMetadata(baseUrlOf(event), resourcePath), { 'cache-control': 'public, max-age=300' }),
  );

/** The handler of an `mcp_method_not_allowed` route of the catalog (it needs no dependency). */
export const serveMcpMethodNotAllowed = (entry: CatalogEntry, _deps?: unknown): HttpHandler => {
  routeSpec(entry, 'mcp_method_not_allowed');
  return makeMcpMethodNotAllowedHandler();
};

/** The handler of a `protected_resource` route of the catalog: the metadata of the resource it names (it needs no dependency). */
export const serveProtectedResource = (entry: CatalogEntry, _deps?: unknown): HttpHandler => makeProtectedResourceHandler(routeSpec(entry, 'protected_resource').resourcePath);
