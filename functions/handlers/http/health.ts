import { AppError } from '../../domain/errors';
import type { TableProbe } from '../../domain/ports';
import { logger } from '../../observability';
import type { CatalogEntry } from '../../operations/operation';
import { jsonResponse, routeSpec, withHttpMiddleware, type HttpHandler } from './http-api';

/** The health check's own budget for the table read: far inside any caller's timeout, yet room for a cold start. */
export const HEALTH_TIMEOUT_MS = 2_000;

/** The service cannot serve right now (its table does not answer); retry later. */
export class ServiceUnavailableError extends AppError {
  readonly code = 'SERVICE_UNAVAILABLE';
  readonly status = 503;
}

/**
 * `GET /health`: whether the service can serve, for the local stack and for monitoring; no auth.
 * It reads the table once, with its own short timeout, so that a table that hangs answers
 * 503 quickly instead of holding the caller until the function's timeout.
 */
export const makeHandler = (deps: { tableProbe: TableProbe; timeoutMs?: number }) =>
  withHttpMiddleware(async () => {
    try {
      await deps.tableProbe.check(AbortSignal.timeout(deps.timeoutMs ?? HEALTH_TIMEOUT_MS));
    } catch (error) {
      logger.warn('health check: the table cannot be read', { error: error as Error });
      throw new ServiceUnavailableError('The service cannot reach its data store right now. Retry later.');
    }
    return jsonResponse(200, { data: { status: 'ok' } });
  });

/** The handler of a `health` route of the catalog. */
export const serveHealth = (entry: CatalogEntry, deps: { tableProbe: TableProbe }): HttpHandler => {
  routeSpec(entry, 'health');
  return makeHandler(deps);
};
