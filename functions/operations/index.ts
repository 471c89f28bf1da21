import { bulkGenerateAccessCodesOperation } from './bulk-generate-access-codes';
import { createTelegramLinkOperation } from './create-telegram-link';
import { getJobStatusOperation } from './get-job-status';
import { healthRoute } from './health';
import { listAccessCodesOperation } from './list-access-codes';
import type { CatalogEntry, ToolOperation } from './operation';
import { previewAccessCodeCostOperation } from './preview-access-code-cost';
import { telegramWebhookRoute } from './telegram-webhook';
import { expireBatchOperation } from './expire-batch';

export { operationId, type CatalogEntry, type Needs, type ServiceDeps, type ToolOperation, type SpecialRoute } from './operation';

/**
 * The catalog: every operation of the service. The Lambda entry point, the CDK route table
 * (lib/api-routes.ts), the local router and (later) the MCP tools and the OpenAPI document are
 * all derived from it. Adding a route = one entry here plus its use case.
 */
export const CATALOG: readonly CatalogEntry[] = [
  healthRoute,
  previewAccessCodeCostOperation,
  bulkGenerateAccessCodesOperation,
  getJobStatusOperation,
  listAccessCodesOperation,
  createTelegramLinkOperation,
  telegramWebhookRoute,
  expireBatchOperation,
];

/** The authenticated operations: the tools. */
export const TOOLS: readonly ToolOperation<any, any, any>[] = CATALOG.filter((entry): entry is ToolOperation<any, any, any> => entry.kind === 'tool');

/** The environment variable that tells the generic HTTP entry point which operation its function serves. */
export const OPERATION_ENV = 'OPERATION';

/** The catalog entry called `name`, or undefined. */
export const catalogEntry = (name: string): CatalogEntry | undefined => CATALOG.find((entry) => entry.name === name);
