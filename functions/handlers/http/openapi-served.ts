import { baseUrlOf, jsonResponse, withHttpMiddleware, type HttpHandler } from './http-api';

/**
 * Serves a built OpenAPI document, its `servers` set to the URL the request came in on. The
 * Lambda of GET /v1/openapi.json serves the document built by `npm run generate:entries`
 * (`openapi-document.json` beside its entry), so its cold start parses JSON instead of loading
 * and walking the whole catalog; the local stack builds it from the catalog (`serveOpenApi`).
 */
export const serveOpenApiDocument = (document: Record<string, unknown>): HttpHandler =>
  withHttpMiddleware(async (event) =>
    jsonResponse(200, { ...document, servers: [{ url: baseUrlOf(event), description: 'This API.' }] }, { 'cache-control': 'public, max-age=300' }),
  );
