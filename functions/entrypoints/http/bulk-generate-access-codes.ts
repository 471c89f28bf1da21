// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { bulkGenerateAccessCodesOperation as entry } from '../../operations/bulk-generate-access-codes';
import { productionOperationDeps, queueNeed, tableNeed } from '../../wiring';

/** Lambda entry point of POST /v1/access-codes/bulk-generate: bulk_generate_access_codes alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { queue: queueNeed, table: tableNeed }));
