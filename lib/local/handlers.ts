import type { HttpHandler } from '../../functions/adapters/http/http-api';
import { makeHandler as makeHealth } from '../../functions/handlers/http/health';
import { makeHandler as makePreviewAccessCodeCost } from '../../functions/handlers/http/preview-access-code-cost';
import type { ApiDeps } from '../../functions/wiring';

/** The local stack's handler for each route id of API_ROUTES, built on local dependencies. */
export const localHandlers = (deps: ApiDeps): Record<string, HttpHandler> => ({
  Health: makeHealth(),
  PreviewAccessCodeCost: makePreviewAccessCodeCost(deps),
});
