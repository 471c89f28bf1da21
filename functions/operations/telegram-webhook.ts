import { makeHandler } from '../handlers/http/telegram-webhook';
import { defineRoute } from './operation';

/** `POST /telegram/webhook`: the bot's updates, authenticated by Telegram's secret token header. */
export const telegramWebhookRoute = defineRoute({
  kind: 'route',
  name: 'telegram_webhook',
  description: "Receives the bot's updates from Telegram (linking a creator chat with /start).",
  auth: 'telegram-secret',
  http: { method: 'POST', path: '/telegram/webhook' },
  needs: { table: 'readWrite', bot: true, webhookSecret: true },
  makeHandler: (deps) => makeHandler({ ...deps, links: deps.accounts }),
});
