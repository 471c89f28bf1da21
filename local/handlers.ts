import type { HttpHandler } from '../functions/handlers/http/http-api';
import type { ExpiryStore, TableProbe, TelegramSender } from '../functions/domain/ports';
import { catalogHandler } from '../functions/handlers/http/operation-handler';
import { CATALOG, operationId, type ServiceDeps } from '../functions/operations';
import type { ApiDeps } from '../functions/wiring';
import { ConfigurationError } from '../functions/contracts/env';
import type { WebhookServices } from '../functions/use-cases/webhook-endpoints';

/** What the local API needs beyond the stores: the bot, as the Telegram routes see it. */
export interface LocalApiDeps extends ApiDeps {
  telegram: TelegramSender;
  botUsername: string;
  webhookSecret: string;
  /** What `/health` reads. */
  tableProbe: TableProbe;
  /** The webhook parts (startLocalPipeline builds them); without them the webhook routes answer 500. */
  webhooks?: WebhookServices;
  /** The expiry index and batch expiry moves (expire_batch). */
  expiry: ExpiryStore;
}

/** Stands in for webhooks where a harness has none: any use fails as a configuration error. */
const noWebhooks = new Proxy({} as WebhookServices, {
  get: () => {
    throw new ConfigurationError('webhooks are not configured in this stack');
  },
});

/**
 * The local stack's handler for each route id of API_ROUTES, from the catalog: every entry gets
 * the same generic handler as in Lambda, on local dependencies (all of them: locally nothing is
 * granted per function).
 */
export const localHandlers = (deps: LocalApiDeps): Record<string, HttpHandler> => {
  const all: ServiceDeps = { ...deps, webhooks: deps.webhooks ?? noWebhooks };
  return Object.fromEntries(CATALOG.map((entry) => [operationId(entry.name), catalogHandler(entry, all)]));
};
