import type { JobStore } from '../domain/ports';
import type { Job } from '../domain/jobs';
import type { Clock, JobQueue } from '../domain/ports';
import type { PipelineMessage } from '../contracts/queue-messages';
import { logger } from '../observability';
import { chunkMessages } from './bulk-generate-access-codes';

/** A job with no progress for this long is pushed on again. */
export const STALE_AFTER_MS = 2 * 60_000;
/** After this many pushes without progress, a job fails rather than wait forever. */
export const MAX_REQUEUES = 5;
/** Jobs looked at per sweep (all pages of the active-jobs index, up to this). */
const SWEEP_LIMIT = 10_000;

/** Dependencies of the sweeper. */
export interface SweepDeps {
  jobs: JobStore;
  queue: JobQueue;
  clock: Clock;
}

const leaseHeld = (job: Job, now: Date) => job.leaseUntil !== null && new Date(job.leaseUntil) > now;

/**
 * Keeps the promise that an acknowledged job always ends: runs every minute.
 * 1. A job that has not moved for STALE_AFTER_MS (and whose delivery lease has lapsed) gets
 *    its work queued again: its chunks while generating, its delivery once generated. All of
 *    that work is idempotent, so pushing a job that was merely slow costs nothing.
 * 2. A job pushed MAX_REQUEUES times in a row without moving in between fails with reason
 *    `stalled`.
 */
export const sweepJobs = async (deps: SweepDeps): Promise<{ requeued: string[]; failed: string[] }> => {
  const now = deps.clock.now();
  const requeued: string[] = [];
  const failed: string[] = [];
  for (const job of await deps.jobs.activeJobs(SWEEP_LIMIT)) {
    const lastMoved = Math.max(new Date(job.updatedAt).getTime(), job.requeuedAt ? new Date(job.requeuedAt).getTime() : 0);
    if (now.getTime() - lastMoved < STALE_AFTER_MS || leaseHeld(job, now)) continue;
    // Progress since the last push starts the count again: only pushes in a row count.
    const streak = job.requeueMarker === job.updatedAt ? job.requeues : 0;
    if (streak >= MAX_REQUEUES) {
      const message = `The job made no progress after ${MAX_REQUEUES} retries.`;
      if (await deps.jobs.failJob(job.id, { code: 'stalled', message }, now)) failed.push(job.id);
      continue;
    }
    const messages: Array<{ body: PipelineMessage }> = job.generatedAt
      ? [{ body: { kind: 'deliver', job_id: job.id } }]
      : chunkMessages(job);
    await deps.queue.send(messages);
    await deps.jobs.recordRequeue(job.id, now, streak + 1, job.updatedAt);
    requeued.push(job.id);
  }
  if (requeued.length || failed.length) logger.info('sweep', { requeued, failed });
  return { requeued, failed };
};

/**
 * A pipeline message the queue gave up on (dead-lettered): its job cannot finish, so it
 * fails now, with a reason, rather than wait for the sweeper.
 */
export const failDeadLetteredJob = async (deps: SweepDeps, message: PipelineMessage): Promise<void> => {
  await deps.jobs.failJob(
    message.job_id,
    { code: 'processing_failed', message: 'Generating or delivering the codes kept failing; the job was abandoned after repeated retries.' },
    deps.clock.now(),
  );
};
