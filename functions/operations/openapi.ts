import { makeOpenApiHandler, OPENAPI_PATH } from '../handlers/http/openapi';

/** The OpenAPI document of a catalog (without `servers`, which each answer sets), for lib/http-entries.ts to build once. */
export { openApiDocument } from '../handlers/http/openapi';
import * as v from 'valibot';
import { defineRoute, type CatalogEntry, type SpecialRoute } from './operation';

/**
 * `GET /v1/openapi.json`: the OpenAPI 3.1 document of every route, generated at cold start from
 * `catalog` (a thunk: the catalog includes this route).
 */
export const openApiRoute = (catalog: () => readonly CatalogEntry[]): SpecialRoute<{}> =>
  defineRoute({
    kind: 'route',
    name: 'openapi_document',
    description: 'The OpenAPI 3.1 document of this API, generated from the operation catalog.',
    auth: 'public',
    http: { method: 'GET', path: OPENAPI_PATH },
    responses: { 200: { description: 'The OpenAPI 3.1 document.', body: v.record(v.string(), v.unknown()) }, 500: 'error' },
    needs: {},
    makeHandler: () => makeOpenApiHandler(catalog()),
  });
