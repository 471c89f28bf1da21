// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { getSubscriptionOperation as entry } from '../../operations/get-subscription';
import { productionOperationDeps, tableNeed } from '../../wiring';

/** Lambda entry point of GET /v1/subscriptions/{subscription_id}: get_subscription alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { table: tableNeed }));
