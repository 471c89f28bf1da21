import { makeHandler } from '../handlers/http/create-telegram-link';
import { productionTelegramLinkDeps } from '../wiring';

/** Lambda entry point of `POST /v1/telegram/link`. */
export const handler = makeHandler(productionTelegramLinkDeps());
