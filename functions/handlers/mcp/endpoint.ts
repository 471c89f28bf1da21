import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { jsonResponse, withHttpMiddleware, type HttpHandler } from '../http/http-api';

// What the MCP endpoint's routes need without the MCP SDK: its paths, its 405s and its protected
// resource metadata. The SDK (and zod, ajv) loads only when POST /mcp is first called
// (operations/mcp.ts), so the other routes sharing the HTTP bundle do not pay for it at cold start.

/** Where the protected resource metadata (RFC 9728) of the MCP endpoint is served. */
export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource';

/** The MCP endpoint's path. */
export const MCP_PATH = '/mcp';

/** The service's public base URL as the caller reached it (API Gateway's domain, or the local server's host). */
export const baseUrlOf = (event: APIGatewayProxyEventV2): string => {
  const host = event.headers?.host ?? event.requestContext.domainName;
  // API Gateway sets x-forwarded-proto (https); the local server sets none and speaks plain HTTP.
  const scheme = event.headers?.['x-forwarded-proto']?.split(',')[0]?.trim() || 'http';
  return `${scheme}://${host}`;
};

/**
 * `GET /mcp` and `DELETE /mcp`: a stateless server has no SSE stream to resume and no session to
 * end, so it answers 405 as the SDK's stateless servers do (clients take that as "no stream").
 */
export const makeMcpMethodNotAllowedHandler = (): HttpHandler =>
  withHttpMiddleware(async () =>
    jsonResponse(405, { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null }, { allow: 'POST' }),
  );

/** The protected resource metadata (RFC 9728) of the MCP endpoint, for the caller's base URL. */
export const protectedResourceMetadata = (baseUrl: string) => ({
  resource: `${baseUrl}${MCP_PATH}`,
  bearer_methods_supported: ['header'],
  resource_name: 'MemberPass access codes',
  // No authorization server: tokens are issued by the operator with the admin CLI.
  resource_documentation: `${baseUrl}/v1/openapi.json`,
});

/** `GET /.well-known/oauth-protected-resource`: public, tells MCP clients how to authenticate. */
export const makeProtectedResourceHandler = (): HttpHandler =>
  withHttpMiddleware(async (event) => jsonResponse(200, protectedResourceMetadata(baseUrlOf(event)), { 'cache-control': 'public, max-age=300' }));
