// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { retryWebhookDeliveryOperation as entry } from '../../operations/webhook-endpoints';
import { productionOperationDeps, tableNeed, webhookQueueNeed, webhooksNeed } from '../../wiring';

/** Lambda entry point of POST /v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry: retry_webhook_delivery alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { table: tableNeed, webhookQueue: webhookQueueNeed, webhooks: webhooksNeed }));
