import { keys } from '../functions/contracts/table';
import { CATALOG, TOOLS, operationId, type CatalogEntry, type Needs } from '../functions/operations';

/** What a route's Lambda may do to the table. */
export type TableAccess = 'none' | 'read' | 'readWrite';

/** How API Gateway lets a request through to the route (the function checks the rest). */
export type RouteAuth = 'bearer' | 'public' | 'telegram-secret';

/** One HTTP route of the public API and the Lambda that serves it, as derived from the catalog. */
export interface ApiRoute {
  /** Stable id, the PascalCase of the catalog name: names the Lambda in CDK and the handler in the local stack. */
  id: string;
  /** The catalog entry's name: the function's OPERATION. */
  operation: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** API Gateway route path, with `{name}` path parameters. */
  path: string;
  /** Entry file (relative to the repository root) exporting `handler`. */
  entry: string;
  auth: RouteAuth;
  tableAccess: TableAccess;
  /** Everything the function needs, each a grant plus its environment variable. */
  needs: Needs;
  /** The route queues pipeline work (needs.queue). */
  queue: boolean;
  /** What the route needs of the Telegram bot (needs.bot / needs.botUsername). */
  telegram?: 'username' | 'bot';
  /** Partition key prefixes whose items the function deletes (DeleteItem scoped by dynamodb:LeadingKeys); usually none. */
  deletes?: readonly string[];
}

/** The partitions `entry`'s function deletes in: its own, or, for the MCP endpoint, every tool's. */
const deletesOf = (entry: CatalogEntry): string[] => {
  // Only deleting an endpoint deletes items (its partition); no other operation deletes anything.
  const own = (_name: string, needs: Needs) => (needs.webhooks === 'delete' ? [keys.webhookEndpoint('').pk] : []);
  // The MCP endpoint runs any tool: the union of theirs.
  const all = entry.name === 'mcp' ? TOOLS.flatMap((tool) => own(tool.name, tool.needs)) : own(entry.name, entry.needs);
  return [...new Set(all)].sort();
};

/** The one Lambda entry point of every HTTP route; OPERATION picks the catalog entry. */
export const HTTP_ENTRY = 'functions/entrypoints/http-operation.ts';

/** The route of one catalog entry. */
export const routeOf = (entry: CatalogEntry): ApiRoute => {
  const needs: Needs = entry.needs;
  const telegram = needs.bot ? 'bot' : needs.botUsername ? 'username' : undefined;
  return {
    id: operationId(entry.name),
    operation: entry.name,
    method: entry.http.method,
    path: entry.http.path,
    entry: HTTP_ENTRY,
    auth: entry.kind === 'tool' ? 'bearer' : entry.auth,
    tableAccess: needs.table ?? 'none',
    needs,
    queue: needs.queue === true,
    ...(telegram ? { telegram } : {}),
    deletes: deletesOf(entry),
  };
};

/**
 * The route table, derived from the operation catalog: the CDK stack makes a Lambda and an API
 * Gateway route of each, and the local stack routes the same paths to the same handler code.
 */
export const API_ROUTES: readonly ApiRoute[] = CATALOG.map(routeOf);
