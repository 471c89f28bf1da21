// Generated from the operation catalog by lib/http-entries.ts: do not edit.
import { toolHandler } from '../../handlers/http/operation-handler';
import { getJobStatusOperation as entry } from '../../operations/get-job-status';
import { productionOperationDeps, tableNeed } from '../../wiring';

/** Lambda entry point of GET /v1/jobs/{job_id}: get_job_status alone, on the wiring of its needs. */
export const handler = toolHandler(entry, await productionOperationDeps(entry.needs, { table: tableNeed }));
