import type { CatalogEntry, RouteHandlerKind, ServiceDeps } from '../../operations/operation';
import { serveMcpMethodNotAllowed, serveProtectedResource } from '../mcp/endpoint';
import { serveMcp } from '../mcp/serve-mcp';
import { serveHealth } from './health';
import type { HttpHandler } from './http-api';
import { serveOpenApi } from './openapi';
import { toolHandler } from './operation-handler';
import { serveTelegramWebhook } from './telegram-webhook';

/**
 * The factory of each kind of special route the catalog names. The local stack builds every route
 * from here; a Lambda entry point imports only its own route's factory (lib/http-entries.ts
 * names the same one), so that its bundle carries no other route's handler.
 */
export const ROUTE_HANDLERS: { readonly [K in RouteHandlerKind]: (entry: CatalogEntry, deps: ServiceDeps) => HttpHandler } = {
  health: serveHealth,
  telegram_webhook: serveTelegramWebhook,
  mcp: serveMcp,
  mcp_method_not_allowed: serveMcpMethodNotAllowed,
  protected_resource: serveProtectedResource,
  openapi: serveOpenApi,
};

/** The HTTP handler of any catalog entry, on every dependency: a tool through `toolHandler`, a special route through the factory of its kind. */
export const catalogHandler = (entry: CatalogEntry, deps: ServiceDeps): HttpHandler =>
  entry.kind === 'tool' ? toolHandler(entry, deps) : ROUTE_HANDLERS[entry.handler.kind](entry, deps);
