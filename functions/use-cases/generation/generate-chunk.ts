import { randomCode, type CodeGenerator } from '../../domain/access-codes';
import { EVENT_API_VERSION, type AccessCodeGeneratedData, type EventEnvelope } from '../../contracts/events';
import { deliverMessage, type DeliverMessage } from '../../contracts/queue-messages';
import { newId } from '../../domain/ids';
import type { CodeStore, JobStore } from '../../domain/ports';
import { chunkSlots, isTerminal, type Job } from '../../domain/jobs';
import type { Clock, MessageQueue } from '../../domain/ports';
import { METRIC, countMetric } from '../../observability';

/** Dependencies of the generator. */
export interface GenerateDeps {
  jobs: JobStore;
  codes: CodeStore;
  /** The delivery queue, where a generated job goes next. */
  deliveries: MessageQueue<DeliverMessage>;
  clock: Clock;
  generateCode?: CodeGenerator;
}

/** The access_code.generated event of a job's batch. */
export const generatedEvent = (job: Job, now: Date): EventEnvelope<AccessCodeGeneratedData> => ({
  id: newId('event'),
  type: 'access_code.generated',
  created_at: now.toISOString(),
  api_version: EVENT_API_VERSION,
  project_id: job.projectId,
  data: { batch_id: job.batchId, plan_id: job.planId, count: job.quantity, expires_at: job.expiresAt },
});

/**
 * Generates one chunk of a job. Safe to run twice, or concurrently with itself.
 * 1. Skip jobs that ended; mark a queued job processing.
 * 2. Store a unique code in every slot of the chunk not filled yet.
 * 3. When the whole batch is stored, mark it generated together with its access_code.generated
 *    event (exactly one caller wins), then queue its delivery on the delivery queue (a duplicate
 *    is harmless: delivery runs under a lease and resumes from its persisted cursor; a lost one
 *    is queued again by the job sweeper).
 */
export const generateChunk = async (deps: GenerateDeps, jobId: string, chunk: number): Promise<void> => {
  const job = await deps.jobs.getJob(jobId);
  if (!job || isTerminal(job.status)) return;
  if (job.status === 'queued') await deps.jobs.markProcessing(jobId, deps.clock.now());
  if (!job.generatedAt) {
    const stored = await deps.codes.storeCodes(job, chunkSlots(job.quantity, chunk), deps.generateCode ?? randomCode, deps.clock.now());
    countMetric(METRIC.codesGenerated, stored);
    if ((await deps.jobs.countStored(jobId)) < job.quantity) return;
    const now = deps.clock.now();
    await deps.jobs.markGenerated(jobId, generatedEvent(job, now), now);
  }
  await deps.deliveries.send([{ body: deliverMessage(jobId) }]);
};
