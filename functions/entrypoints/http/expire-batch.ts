// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { expireBatchOperation as entry } from '../../operations/expire-batch';
import { productionOperationDeps, tableNeed } from '../../wiring';

/** Lambda entry point of POST /v1/batches/{batch_id}/expire: expire_batch alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { table: tableNeed }));
