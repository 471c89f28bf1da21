// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { redeemAccessCodeOperation as entry } from '../../operations/redeem-access-code';
import { productionOperationDeps, tableNeed } from '../../wiring';

/** Lambda entry point of POST /v1/access-codes/redeem: redeem_access_code alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { table: tableNeed }));
