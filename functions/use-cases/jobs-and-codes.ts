import { codeStatusAt, type AccessCodeRecord, type AccessCodeStatus } from '../domain/access-code-record';
import { displayCode } from '../domain/access-codes';
import { ResourceNotFoundError, ValidationFailedError } from '../domain/errors';
import { jobView } from '../domain/jobs';
import type { Principal } from '../domain/model';
import { InvalidCursorError, type AccountReader, type Clock, type CodePosition, type CodeStore, type CursorCodec, type JobStore } from '../domain/ports';
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
  status: codeStatusAt(code, now),
  plan_id: code.planId,
  job_id: code.jobId,
  batch_id: code.batchId,
  expires_at: code.expiresAt,
  redeemed_at: code.redeemedAt,
  created_at: code.createdAt,
});

/** What a cursor is bound to: the listing it came from (plan and filters), versioned. */
const cursorContext = (input: { planId: string; status?: AccessCodeStatus; jobId?: string }) =>
  JSON.stringify(['list_access_codes.v1', input.planId, input.status ?? null, input.jobId ?? null]);

const isPosition = (value: unknown): value is CodePosition => {
  if (typeof value !== 'object' || value === null) return false;
  const { part, after } = value as Record<string, unknown>;
  return Number.isInteger(part) && (after === null || typeof after === 'string') && Object.keys(value).length === 2;
};

const invalidCursor = () => new ValidationFailedError([{ path: 'cursor', message: 'cursor is not one this listing returned' }]);

/**
 * list_access_codes: a page of a plan's codes in full, filtered by status and/or job.
 * 1. The plan must be the caller's team's (else not found, before any cursor is looked at).
 * 2. The cursor opens only under the same plan and filters (else 422 on `cursor`).
 * 3. One bounded read of the code store; a short page with a next cursor is normal.
 * Reads only: nothing to survive.
 */
export const listAccessCodes = async (
  deps: { accounts: AccountReader; codes: CodeStore; cursors: CursorCodec; clock: Clock },
  principal: Principal,
  input: { planId: string; status?: AccessCodeStatus; jobId?: string; limit: number; cursor?: string },
) => {
  await loadPlanForPrincipal(deps, principal, input.planId);
  const context = cursorContext(input);
  let after: CodePosition | undefined;
  if (input.cursor !== undefined) {
    const opened = await deps.cursors.open(input.cursor, context);
    if (!isPosition(opened)) throw invalidCursor();
    after = opened;
  }
  try {
    const now = deps.clock.now();
    const page = await deps.codes.listCodes(
      input.planId,
      { ...(input.jobId ? { jobId: input.jobId } : {}), ...(input.status ? { status: input.status } : {}), asOf: now },
      { limit: input.limit, ...(after ? { after } : {}) },
    );
    return {
      plan_id: input.planId,
      codes: page.codes.map((code) => codeView(code, now)),
      next_cursor: page.next ? await deps.cursors.seal(page.next, context) : null,
    };
  } catch (error) {
    if (error instanceof InvalidCursorError) throw invalidCursor();
    throw error;
  }
};
