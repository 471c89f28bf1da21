// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { serveTelegramWebhook } from '../../handlers/http/telegram-webhook';
import { telegramWebhookRoute as entry } from '../../operations/telegram-webhook';
import { botNeed, productionOperationDeps, tableNeed, webhookSecretNeed } from '../../wiring';

/** Lambda entry point of POST /telegram/webhook: telegram_webhook alone, on the wiring of its needs. */
export const handler = serveTelegramWebhook(entry, await productionOperationDeps(entry.needs, { bot: botNeed, table: tableNeed, webhookSecret: webhookSecretNeed }));
