import { deliverMessage, type DeliverMessage, type PipelineMessage } from '../contracts/queue-messages';
import type { ChatLeases } from '../domain/chat-leases';
import type { JobStore } from '../domain/ports';
import type { Job } from '../domain/jobs';
import type { Clock, JobQueue, MessageQueue } from '../domain/ports';
import { logger } from '../observability';
import { chunkMessages } from './bulk-generate-access-codes';

/** A job with no progress for this long is pushed on again. */
export const STALE_AFTER_MS = 2 * 60_000;
/** After this many pushes without progress, a job fails rather than wait forever. */
export const MAX_REQUEUES = 5;
/** Jobs looked at per sweep (all pages of the active-jobs index, up to this). */
const SWEEP_LIMIT = 10_000;

/** Dependencies of the job sweeper. */
export interface JobSweeperDeps {
  jobs: JobStore;
  /** The generation queue, for jobs still generating. */
  queue: JobQueue;
  /** The delivery queue, for generated jobs. */
  deliveries: MessageQueue<DeliverMessage>;
  /** Whose turn it is at each chat: a job waiting for a busy chat is not stalled. */
  chats: ChatLeases;
  clock: Clock;
}

/** What one sweep did: the jobs it pushed on and the jobs it failed, by id. */
export interface JobSweep {
  requeued: string[];
  failed: string[];
}

const leaseHeld = (job: Job, now: Date) => job.leaseUntil !== null && new Date(job.leaseUntil) > now;

/**
 * Keeps the promise that an acknowledged job always ends: runs every minute.
 * 1. A job that has not moved for STALE_AFTER_MS (and whose delivery lease has lapsed) gets
 *    its work queued again: its chunks while generating, its delivery once generated. All of
 *    that work is idempotent, so pushing a job that was merely slow costs nothing. A generated
 *    job whose chat another job holds is waiting for its turn, not stalled: it is left alone
 *    (should the holder die, its chat lease lapses and the next sweep pushes the waiter).
 * 2. A job pushed MAX_REQUEUES times in a row without moving in between fails with reason
 *    `stalled`.
 * `done` is filled job by job, so a caller that hands one in reads what was done even when the
 * sweep throws part-way.
 */
export const sweepStalledJobs = async (deps: JobSweeperDeps, done: JobSweep = { requeued: [], failed: [] }): Promise<JobSweep> => {
  const now = deps.clock.now();
  const { requeued, failed } = done;
  for (const job of await deps.jobs.activeJobs(SWEEP_LIMIT)) {
    const lastMoved = Math.max(new Date(job.updatedAt).getTime(), job.requeuedAt ? new Date(job.requeuedAt).getTime() : 0);
    if (now.getTime() - lastMoved < STALE_AFTER_MS || leaseHeld(job, now)) continue;
    if (job.generatedAt) {
      const holder = await deps.chats.holder(job.telegramChatId, now);
      if (holder !== undefined && holder !== job.id) continue;
    }
    // Progress since the last push starts the count again: only pushes in a row count.
    const streak = job.requeueMarker === job.updatedAt ? job.requeues : 0;
    if (streak >= MAX_REQUEUES) {
      const message = `The job made no progress after ${MAX_REQUEUES} retries.`;
      if (await deps.jobs.failJob(job.id, { code: 'stalled', message }, now)) failed.push(job.id);
      continue;
    }
    if (job.generatedAt) await deps.deliveries.send([{ body: deliverMessage(job.id) }]);
    else await deps.queue.send(chunkMessages(job) satisfies Array<{ body: PipelineMessage }>);
    await deps.jobs.recordRequeue(job.id, now, streak + 1, job.updatedAt);
    requeued.push(job.id);
  }
  if (requeued.length || failed.length) logger.info('job sweep', { requeued, failed });
  return done;
};
