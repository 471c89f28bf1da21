import * as v from 'valibot';
import { defineRoute } from './operation';
import { TelegramWebhookOutput } from './outputs';

/** `POST /telegram/webhook`: the bot's updates, authenticated by Telegram's secret token header. */
export const telegramWebhookRoute = defineRoute({
  kind: 'route',
  name: 'telegram_webhook',
  description: "Receives the bot's updates from Telegram (linking a creator chat with /start).",
  auth: 'telegram-secret',
  http: { method: 'POST', path: '/telegram/webhook' },
  // Telegram sends at most max_connections (40 by default) concurrent updates; a flood of forged
  // updates is refused by the secret token check, but still costs an invocation each.
  throttle: { rateLimit: 40, burstLimit: 80 },
  requestBody: { description: 'A Telegram Update; anything the bot does not read is ignored.', body: v.record(v.string(), v.unknown()) },
  // 422: a body that is not a JSON object is refused before any update is read.
  responses: { 200: { description: 'The update was handled.', body: TelegramWebhookOutput }, 401: 'error', 422: 'error', 500: 'error' },
  needs: { table: 'readWrite', bot: true, webhookSecret: true },
  handler: { kind: 'telegram_webhook' },
});
