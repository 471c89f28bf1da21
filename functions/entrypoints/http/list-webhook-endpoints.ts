// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { listWebhookEndpointsOperation as entry } from '../../operations/webhook-endpoints';
import { cursorKeyNeed, productionOperationDeps, tableNeed, webhooksNeed } from '../../wiring';

/** Lambda entry point of GET /v1/webhook-endpoints: list_webhook_endpoints alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { cursorKey: cursorKeyNeed, table: tableNeed, webhooks: webhooksNeed }));
