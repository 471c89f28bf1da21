import { makeHandler } from '../handlers/http/telegram-webhook';
import { productionTelegramWebhookDeps } from '../wiring';

/** Lambda entry point of `POST /telegram/webhook` (reads its secrets at cold start). */
export const handler = makeHandler(await productionTelegramWebhookDeps());
