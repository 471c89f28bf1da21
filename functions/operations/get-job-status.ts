import * as v from 'valibot';
import { getJobStatus } from '../use-cases/jobs-and-codes';
import { resourceId } from './fields';
import { defineOperation } from './operation';
import { JobOutput } from './outputs';

/** get_job_status: `GET /v1/jobs/{job_id}`. */
export const getJobStatusOperation = defineOperation({
  kind: 'tool',
  name: 'get_job_status',
  description:
    'Status and progress of a bulk_generate_access_codes job (queued, processing, completed or failed, with generated and delivered counts). Poll it with the job_id that bulk_generate_access_codes returned until status=completed or failed.',
  abilities: ['project-access-code:create', 'project-access-code:view-any'],
  input: v.strictObject({ job_id: v.pipe(resourceId('job_id'), v.description('The job_id returned by bulk_generate_access_codes.')) }),
  output: JobOutput,
  annotations: { readOnlyHint: true, idempotentHint: true, destructiveHint: false, openWorldHint: false },
  http: { method: 'GET', path: '/v1/jobs/{job_id}', successStatus: 200, pathParams: ['job_id'], queryParams: [], headers: {} },
  needs: { table: 'read' },
  run: (deps, principal, input) => getJobStatus(deps, principal, input.job_id),
});
