// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { sendTestWebhookOperation as entry } from '../../operations/webhook-endpoints';
import { productionOperationDeps, tableNeed, webhooksNeed } from '../../wiring';

/** Lambda entry point of POST /v1/webhook-endpoints/{endpoint_id}/test: send_test_webhook alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { table: tableNeed, webhooks: webhooksNeed }));
