// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { previewAccessCodeCostOperation as entry } from '../../operations/preview-access-code-cost';
import { productionOperationDeps, tableNeed } from '../../wiring';

/** Lambda entry point of POST /v1/access-codes/preview: preview_access_code_cost alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { table: tableNeed }));
