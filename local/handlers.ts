import type { HttpHandler } from '../functions/adapters/http/http-api';
import { makeHandler as makeHealth } from '../functions/handlers/http/health';
import { makeHandler as makePreviewAccessCodeCost } from '../functions/handlers/http/preview-access-code-cost';
import { makeHandler as makeBulkGenerate } from '../functions/handlers/http/bulk-generate-access-codes';
import { makeHandler as makeGetJobStatus } from '../functions/handlers/http/get-job-status';
import { makeHandler as makeListAccessCodes } from '../functions/handlers/http/list-access-codes';
import { makeHandler as makeCreateTelegramLink } from '../functions/handlers/http/create-telegram-link';
import { makeHandler as makeTelegramWebhook } from '../functions/handlers/http/telegram-webhook';
import type { TelegramSender } from '../functions/domain/ports';
import type { TableProbe } from '../functions/adapters/dynamodb/table-probe';
import type { ApiDeps } from '../functions/wiring';

/** What the local API needs beyond the stores: the bot, as the Telegram routes see it. */
export interface LocalApiDeps extends ApiDeps {
  telegram: TelegramSender;
  botUsername: string;
  webhookSecret: string;
  /** What `/health` reads. */
  tableProbe: TableProbe;
}

/** The local stack's handler for each route id of API_ROUTES, built on local dependencies. */
export const localHandlers = (deps: LocalApiDeps): Record<string, HttpHandler> => ({
  Health: makeHealth(deps),
  PreviewAccessCodeCost: makePreviewAccessCodeCost(deps),
  BulkGenerateAccessCodes: makeBulkGenerate(deps),
  GetJobStatus: makeGetJobStatus(deps),
  ListAccessCodes: makeListAccessCodes(deps),
  CreateTelegramLink: makeCreateTelegramLink({ ...deps, links: deps.accounts }),
  TelegramWebhook: makeTelegramWebhook({ ...deps, links: deps.accounts }),
});
