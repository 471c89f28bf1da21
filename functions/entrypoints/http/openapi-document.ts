// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { serveOpenApiDocument } from '../../handlers/http/openapi-served';
import document from './openapi-document.json' with { type: 'json' };

/** Lambda entry point of GET /v1/openapi.json: the document built from the catalog by lib/http-entries.ts, served as JSON. */
export const handler = serveOpenApiDocument(document);
