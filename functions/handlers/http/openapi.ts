import type { CatalogEntry } from '../../operations/operation';
import { openApiDocument } from '../../operations/openapi';
import { routeSpec, type HttpHandler } from './http-api';
import { serveOpenApiDocument } from './openapi-served';

/** `GET /v1/openapi.json` (`openapi` routes): the document, generated once (at cold start) from the route's catalog, with the caller's base URL as its server. */
export const serveOpenApi = (entry: CatalogEntry): HttpHandler => serveOpenApiDocument(openApiDocument(routeSpec(entry, 'openapi').catalog()));
