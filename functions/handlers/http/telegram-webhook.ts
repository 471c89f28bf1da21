import { timingSafeEqual } from 'node:crypto';
import { AuthenticationRequiredError } from '../../domain/errors';
import type { AccountReader, AccountWriter, Clock, TelegramLinkStore, TelegramSender } from '../../domain/ports';
import type { CatalogEntry } from '../../operations/operation';
import { jsonResponse, routeSpec, withHttpMiddleware, type HttpHandler } from './http-api';
import { decodeJsonObject } from './validation';
import { handleTelegramUpdate, type TelegramUpdate } from '../../use-cases/telegram-link';

/** What the bot's webhook needs; `webhookSecret` is the `secret_token` given to setWebhook. */
export interface TelegramWebhookDeps {
  accounts: AccountReader & AccountWriter;
  links: TelegramLinkStore;
  telegram: TelegramSender;
  clock: Clock;
  webhookSecret: string;
}

const sameSecret = (given: string | undefined, expected: string): boolean => {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * `POST /telegram/webhook`: updates from Telegram. Only requests carrying the webhook's
 * secret token (X-Telegram-Bot-Api-Secret-Token) are read; a failure to answer in the chat is
 * a 5xx, so that Telegram delivers the update again.
 */
export const makeHandler = (deps: TelegramWebhookDeps) =>
  withHttpMiddleware(async (event) => {
    if (!sameSecret(event.headers?.['x-telegram-bot-api-secret-token'], deps.webhookSecret)) {
      throw new AuthenticationRequiredError('The Telegram webhook secret token is missing or wrong.', 'X-Telegram-Bot-Api-Secret-Token');
    }
    const update = decodeJsonObject(event.body, event.isBase64Encoded) as TelegramUpdate;
    const outcome = await handleTelegramUpdate(deps, update);
    return jsonResponse(200, { data: { outcome } });
  });

/** The handler of a `telegram_webhook` route of the catalog: the table's account store keeps the chat links. */
export const serveTelegramWebhook = (entry: CatalogEntry, deps: Omit<TelegramWebhookDeps, 'links'> & { accounts: TelegramLinkStore }): HttpHandler => {
  routeSpec(entry, 'telegram_webhook');
  return makeHandler({ ...deps, links: deps.accounts });
};
