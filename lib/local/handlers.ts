import type { HttpHandler } from '../../functions/adapters/http/http-api';
import { makeHandler as makeHealth } from '../../functions/handlers/http/health';
import { makeHandler as makePreviewAccessCodeCost } from '../../functions/handlers/http/preview-access-code-cost';
import { makeHandler as makeBulkGenerate } from '../../functions/handlers/http/bulk-generate-access-codes';
import { makeHandler as makeGetJobStatus } from '../../functions/handlers/http/get-job-status';
import { makeHandler as makeListAccessCodes } from '../../functions/handlers/http/list-access-codes';
import type { ApiDeps } from '../../functions/wiring';

/** The local stack's handler for each route id of API_ROUTES, built on local dependencies. */
export const localHandlers = (deps: ApiDeps): Record<string, HttpHandler> => ({
  Health: makeHealth(),
  PreviewAccessCodeCost: makePreviewAccessCodeCost(deps),
  BulkGenerateAccessCodes: makeBulkGenerate(deps),
  GetJobStatus: makeGetJobStatus(deps),
  ListAccessCodes: makeListAccessCodes(deps),
});
