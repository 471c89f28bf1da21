import type { CatalogEntry } from '../../operations/operation';
import { routeSpec, type HttpHandler } from '../http/http-api';
import type { McpDeps } from './mcp-handler';

/** A handler built on its first call (once, however many calls race for it). */
const lazyHandler = (load: () => Promise<HttpHandler>): HttpHandler => {
  let handler: Promise<HttpHandler> | undefined;
  return async (event, context) => {
    handler ??= load();
    return (await handler)(event, context);
  };
};

/**
 * The handler of an `mcp` route of the catalog: its tools over MCP. The MCP SDK is imported on the
 * first call, not at cold start (nor when the local stack starts). `deps` are the route's needs,
 * the union of its tools' needs.
 */
export const serveMcp = (entry: CatalogEntry, deps: McpDeps): HttpHandler => {
  const { tools } = routeSpec(entry, 'mcp');
  return lazyHandler(async () => (await import('./mcp-handler')).makeMcpHandler(tools, deps));
};
