// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { serveMcp } from '../../handlers/mcp/serve-mcp';
import { catalogEntry } from '../../operations';
import { botUsernameNeed, cursorKeyNeed, productionOperationDeps, queueNeed, tableNeed, webhookQueueNeed, webhooksNeed } from '../../wiring';

const entry = catalogEntry('mcp')!;

/** Lambda entry point of POST /mcp: mcp, from the whole catalog, on the wiring of its needs. */
export const handler = serveMcp(entry, await productionOperationDeps(entry.needs, { botUsername: botUsernameNeed, cursorKey: cursorKeyNeed, queue: queueNeed, table: tableNeed, webhookQueue: webhookQueueNeed, webhooks: webhooksNeed }));
