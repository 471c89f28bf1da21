import { createHash } from 'node:crypto';
import { billingPeriodOf } from '../domain/billing-period';
import { previewCost, wouldBillOverage, type CostPreview } from '../domain/cost';
import { IdempotencyKeyReusedError, ResourceNotFoundError, ValidationFailedError } from '../domain/errors';
import { expiryInstant, type ExpiryRequest } from '../domain/expiry';
import { newId } from '../domain/ids';
import type { JobStore } from '../domain/ports';
import { newQueuedJob, type ExportType, type Job } from '../domain/jobs';
import type { Principal } from '../domain/model';
import type { AccountReader, Clock, JobQueue } from '../domain/ports';
import { logger } from '../observability';
import { loadPlanForPrincipal } from './plan-access';

/** How long an Idempotency-Key is honoured. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

/** Input of bulk_generate_access_codes, already validated field by field. */
export interface BulkGenerateInput {
  plan_id: string;
  quantity: number;
  export_type: ExportType;
  expiry: ExpiryRequest;
  consent: boolean;
  acknowledge_overage: boolean;
}

/** The 202 answer's data. */
export interface BulkGenerateOutput {
  job_id: string;
  status: Job['status'];
  enqueued_at: string;
  plan_id: string;
  quantity: number;
  preview: CostPreview;
}

/** Dependencies of bulk generation. */
export interface BulkGenerateDeps {
  accounts: AccountReader;
  jobs: JobStore;
  queue: JobQueue;
  clock: Clock;
}

/** The chunk messages of a job: what the generator works through. */
export const chunkMessages = (job: Pick<Job, 'id' | 'chunkCount'>) =>
  Array.from({ length: job.chunkCount }, (_, chunk) => ({ body: { kind: 'generate-chunk' as const, job_id: job.id, chunk } }));

/**
 * Queues a bulk generation.
 * 1. Load the plan within the caller's team (else RESOURCE_NOT_FOUND).
 * 2. Refuse when the creator has no linked Telegram chat, or when the preview has chargeable
 *    codes at a price above zero and overage was not acknowledged (VALIDATION_FAILED, nothing written).
 * 3. Write the job, atomically with the Idempotency-Key claim: a replay answers the first job
 *    and queues nothing; the same key with another body is IDEMPOTENCY_KEY_REUSED.
 * 4. Queue one message per chunk. Should that fail, the job is already durable and the sweeper
 *    queues it again, so the 202 stands.
 */
export const bulkGenerateAccessCodes = async (
  deps: BulkGenerateDeps,
  principal: Principal,
  input: BulkGenerateInput,
  idempotencyKey?: string,
): Promise<BulkGenerateOutput> => {
  const now = deps.clock.now();
  const { plan, project } = await loadPlanForPrincipal(deps, principal, input.plan_id);
  const freeUsed = await deps.accounts.freeAllotmentUsed(project.id, billingPeriodOf(now));
  const preview = previewCost(project.tier, freeUsed, input.quantity);

  if (!project.telegramChatId) {
    throw new ValidationFailedError([
      {
        path: 'export_type',
        message: "Codes are delivered over Telegram only, and the creator's Telegram chat is not linked yet: link it with POST /v1/telegram/link first.",
      },
    ]);
  }
  if (wouldBillOverage(project.tier, preview) && !input.acknowledge_overage) {
    throw new ValidationFailedError([
      {
        path: 'acknowledge_overage',
        message: `${preview.chargeable_quantity} of these codes would be billed (${preview.cost} ${project.tier.currency}) if redeemed. Call preview_access_code_cost, then send acknowledge_overage: true.`,
      },
    ]);
  }

  const expiresAt = expiryInstant(input.expiry, now);
  const job = newQueuedJob(
    {
      id: newId('job'),
      batchId: newId('batch'),
      teamId: principal.teamId,
      projectId: project.id,
      planId: plan.id,
      planName: plan.name,
      quantity: input.quantity,
      exportType: input.export_type,
      expiryPreset: input.expiry.preset,
      expiresAt: expiresAt?.toISOString() ?? null,
      telegramChatId: project.telegramChatId,
    },
    now,
  );

  const claim = idempotencyKey
    ? {
        teamId: principal.teamId,
        key: idempotencyKey,
        requestHash: createHash('sha256').update(JSON.stringify(input)).digest('hex'),
        expiresAt: new Date(now.getTime() + IDEMPOTENCY_WINDOW_MS),
      }
    : undefined;
  const created = await deps.jobs.createJob(job, claim);
  if (created.outcome === 'key-reused') throw new IdempotencyKeyReusedError();
  if (created.outcome === 'replayed') {
    const first = await deps.jobs.getJob(created.jobId);
    if (!first) throw new ResourceNotFoundError('Job', created.jobId);
    return {
      job_id: first.id,
      status: first.status,
      enqueued_at: first.createdAt,
      plan_id: first.planId,
      quantity: first.quantity,
      preview,
    };
  }

  try {
    await deps.queue.send(chunkMessages(job));
  } catch (error) {
    logger.warn('queueing a new job failed; the sweeper will queue it', { job_id: job.id, error: error as Error });
  }
  return { job_id: job.id, status: job.status, enqueued_at: job.createdAt, plan_id: plan.id, quantity: job.quantity, preview };
};
