// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { listAccessCodesOperation as entry } from '../../operations/list-access-codes';
import { cursorKeyNeed, productionOperationDeps, tableNeed } from '../../wiring';

/** Lambda entry point of GET /v1/plans/{plan_id}/access-codes: list_access_codes alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { cursorKey: cursorKeyNeed, table: tableNeed }));
