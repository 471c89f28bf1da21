// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { createTelegramLinkOperation as entry } from '../../operations/create-telegram-link';
import { botUsernameNeed, productionOperationDeps, tableNeed } from '../../wiring';

/** Lambda entry point of POST /v1/telegram/link: create_telegram_link alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { botUsername: botUsernameNeed, table: tableNeed }));
