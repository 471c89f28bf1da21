import { bulkGenerateAccessCodesOperation } from './bulk-generate-access-codes';
import { createTelegramLinkOperation } from './create-telegram-link';
import { getJobStatusOperation } from './get-job-status';
import { healthRoute } from './health';
import { listAccessCodesOperation } from './list-access-codes';
import { mcpRoute, mcpSessionRoute, mcpStreamRoute } from './mcp';
import { mcpProtectedResourceRoute, oauthProtectedResourceRoute } from './oauth-protected-resource';
import { openApiRoute } from './openapi';
import type { CatalogEntry, ToolOperation } from './operation';
import { previewAccessCodeCostOperation } from './preview-access-code-cost';
import { telegramWebhookRoute } from './telegram-webhook';
import { WEBHOOK_OPERATIONS } from './webhook-endpoints';
import { redeemAccessCodeOperation } from './redeem-access-code';
import { getSubscriptionOperation } from './get-subscription';
import { expireBatchOperation } from './expire-batch';

export { operationId, type CatalogEntry, type Needs, type ServiceDeps, type ToolOperation, type SpecialRoute, type RouteThrottle } from './operation';

/**
 * The operations themselves: the tools and the routes of their own. Adding a route = one entry
 * here plus its use case; a tool here is also served over MCP and described in the OpenAPI
 * document without further work.
 */
const OPERATIONS: readonly CatalogEntry[] = [
  healthRoute,
  previewAccessCodeCostOperation,
  bulkGenerateAccessCodesOperation,
  getJobStatusOperation,
  listAccessCodesOperation,
  createTelegramLinkOperation,
  telegramWebhookRoute,
  ...WEBHOOK_OPERATIONS,
  redeemAccessCodeOperation,
  getSubscriptionOperation,
  expireBatchOperation,
];

/** The authenticated operations: the tools. */
export const TOOLS: readonly ToolOperation<any, any, any>[] = OPERATIONS.filter((entry): entry is ToolOperation<any, any, any> => entry.kind === 'tool');

/**
 * The catalog: every operation of the service, then the agent interface derived from them (the
 * MCP endpoint over TOOLS, its auth discovery document, the OpenAPI document of the catalog).
 * The Lambda entry point, the CDK route table (lib/api-routes.ts) and the local router are all
 * derived from it.
 */
export const CATALOG: readonly CatalogEntry[] = [
  ...OPERATIONS,
  mcpRoute(TOOLS),
  mcpStreamRoute,
  mcpSessionRoute,
  oauthProtectedResourceRoute,
  mcpProtectedResourceRoute,
  openApiRoute(() => CATALOG),
];

/** The catalog entry called `name`, or undefined. */
export const catalogEntry = (name: string): CatalogEntry | undefined => CATALOG.find((entry) => entry.name === name);
