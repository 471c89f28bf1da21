import type { AccessCodeRecord, AccessCodeStatus } from '../domain/access-code-record';
import { displayCode } from '../domain/access-codes';
import { ResourceNotFoundError, ValidationFailedError } from '../domain/errors';
import { InvalidCursorError, type JobStore } from '../domain/job-store';
import { jobView } from '../domain/jobs';
import type { Principal } from '../domain/model';
import type { AccountReader, Clock } from '../domain/ports';
import { loadPlanForPrincipal } from './plan-access';

/**
 * get_job_status: a job of the caller's team with its progress; another team's job answers
 * exactly like a missing one.
 */
export const getJobStatus = async (deps: { jobs: JobStore }, principal: Principal, jobId: string) => {
  const job = await deps.jobs.getJob(jobId);
  if (!job || job.teamId !== principal.teamId) throw new ResourceNotFoundError('Job', jobId);
  return jobView(job, job.generatedAt ? job.quantity : await deps.jobs.countStored(jobId));
};

/** A code as list_access_codes shows it; an active code past its expiry shows as expired. */
export const codeView = (code: AccessCodeRecord, now: Date) => ({
  code: displayCode(code.code),
  status: code.status === 'active' && code.expiresAt !== null && new Date(code.expiresAt) <= now ? 'expired' : code.status,
  plan_id: code.planId,
  job_id: code.jobId,
  batch_id: code.batchId,
  expires_at: code.expiresAt,
  redeemed_at: code.redeemedAt,
  created_at: code.createdAt,
});

/** list_access_codes: a page of a plan's codes in full, filtered by status and/or job. */
export const listAccessCodes = async (
  deps: { accounts: AccountReader; jobs: JobStore; clock: Clock },
  principal: Principal,
  input: { planId: string; status?: AccessCodeStatus; jobId?: string; limit: number; cursor?: string },
) => {
  await loadPlanForPrincipal(deps, principal, input.planId);
  try {
    const now = deps.clock.now();
    const page = await deps.jobs.listCodes(
      input.planId,
      { ...(input.jobId ? { jobId: input.jobId } : {}), ...(input.status ? { status: input.status } : {}), asOf: now },
      { limit: input.limit, ...(input.cursor ? { cursor: input.cursor } : {}) },
    );
    return { plan_id: input.planId, codes: page.codes.map((code) => codeView(code, now)), next_cursor: page.nextCursor };
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new ValidationFailedError([{ path: 'cursor', message: error.message }]);
    throw error;
  }
};
