import * as v from 'valibot';
import type { JobStore } from '../../domain/ports';
import type { AccountReader } from '../../domain/ports';
import { httpRoute } from '../../adapters/http/http-api';
import { parseWith, resourceId } from '../../adapters/http/validation';
import { getJobStatus } from '../../use-cases/jobs-and-codes';

/** get_job_status over HTTP: `GET /v1/jobs/{job_id}`. */
export const makeHandler = (deps: { accounts: AccountReader; jobs: JobStore }) =>
  httpRoute(deps, {
    abilities: ['project-access-code:create', 'project-access-code:view-any'],
    run: ({ principal, event }) => {
      const { job_id } = parseWith(v.object({ job_id: resourceId('job_id') }), event.pathParameters ?? {});
      return getJobStatus(deps, principal, job_id);
    },
  });
