import { randomUUID } from 'node:crypto';
import { displayCode, randomCode, type CodeGenerator } from '../domain/access-codes';
import { toCsv } from '../domain/csv';
import { DeliveryRefusedError, DeliveryThrottledError } from '../domain/errors';
import { EVENT_API_VERSION, type AccessCodeGeneratedData, type EventEnvelope } from '../contracts/events';
import { newId } from '../domain/ids';
import type { CodeStore, JobStore } from '../domain/ports';
import { chunkSlots, isTerminal, type Job } from '../domain/jobs';
import type { Clock, JobQueue, TelegramSender } from '../domain/ports';
import type { PipelineMessage } from '../contracts/queue-messages';
import { logger } from '../observability';

/** Dependencies of the generator. */
export interface PipelineDeps {
  jobs: JobStore;
  codes: CodeStore;
  queue: JobQueue;
  telegram: TelegramSender;
  clock: Clock;
  generateCode?: CodeGenerator;
  /** Pause between two messages to one chat (Telegram allows about one a second). */
  messageIntervalMs: number;
  /** Waits; injectable so tests need not. */
  sleep?: (ms: number) => Promise<void>;
}

/** What the pipeline needs to know of the invocation running it. */
export interface Invocation {
  remainingMs(): number;
}

/** Stop sending and hand over to a fresh invocation when less than this is left. */
export const SAFETY_MARGIN_MS = 10_000;
/** A handed-over lease outlives its message's delay by this much, in case the queue is slow to deliver it. */
const HANDOVER_GRACE_MS = 60_000;
/** Longest Telegram back-off waited out in place; longer ones go back to the queue as a delay. */
const MAX_INLINE_RETRY_AFTER_S = 5;
/** SQS cannot delay a message longer than this. */
const MAX_QUEUE_DELAY_S = 900;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Handles one pipeline message; throws to have the queue retry it. */
export const handlePipelineMessage = async (deps: PipelineDeps, message: PipelineMessage, invocation: Invocation): Promise<void> => {
  if (message.kind === 'generate-chunk') await generateChunk(deps, message.job_id, message.chunk);
  else await deliverJob(deps, message.job_id, invocation, message.lease);
};

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
 *    event (exactly one caller wins), then queue delivery (a duplicate is harmless: delivery
 *    runs under a lease and resumes from its persisted cursor).
 */
export const generateChunk = async (deps: PipelineDeps, jobId: string, chunk: number): Promise<void> => {
  const job = await deps.jobs.getJob(jobId);
  if (!job || isTerminal(job.status)) return;
  if (job.status === 'queued') await deps.jobs.markProcessing(jobId, deps.clock.now());
  if (!job.generatedAt) {
    await deps.codes.storeCodes(job, chunkSlots(job.quantity, chunk), deps.generateCode ?? randomCode, deps.clock.now());
    if ((await deps.jobs.countStored(jobId)) < job.quantity) return;
    const now = deps.clock.now();
    await deps.jobs.markGenerated(jobId, generatedEvent(job, now), now);
  }
  await deps.queue.send([{ body: { kind: 'deliver', job_id: jobId } }]);
};

/** The CSV a file job delivers: one row per code. */
export const codesCsv = (job: Job, codes: ReadonlyArray<{ code: string }>): string =>
  toCsv(
    ['code', 'plan_id', 'batch_id', 'expires_at'],
    codes.map(({ code }) => [displayCode(code), job.planId, job.batchId, job.expiresAt ?? '']),
  );

const fileCaption = (job: Job): string =>
  `${job.quantity} access code${job.quantity === 1 ? '' : 's'} for plan "${job.planName}" (batch ${job.batchId}), ` +
  (job.expiresAt ? `valid until ${job.expiresAt.slice(0, 16).replace('T', ' ')} UTC.` : 'with no expiry.');

const messageText = (job: Job, slot: number, code: string): string =>
  `Access code ${slot + 1}/${job.quantity} for "${job.planName}": ${displayCode(code)}`;

/**
 * Delivers a generated job to the creator's chat, resumably.
 * 1. Take the job's delivery lease, or the one handed over with the message (another holder
 *    means another invocation is at it).
 * 2. file: send the CSV once and complete. messages: send from the persisted cursor, one
 *    message per code, paced, recording the cursor after each send, so that a crash re-sends at
 *    most the message in flight; hand over to a new queue message before the time runs out.
 * 3. A Telegram 429 (on a document or a message) waits out short back-offs, and longer ones
 *    become a queue delay; a permanent refusal fails the job with its reason; anything else is
 *    retried by the queue.
 */
export const deliverJob = async (deps: PipelineDeps, jobId: string, invocation: Invocation, handedOverLease?: string): Promise<void> => {
  const owner = handedOverLease ?? randomUUID();
  const leaseMs = Math.max(30_000, invocation.remainingMs() + 5_000);
  const job = await deps.jobs.acquireDeliveryLease(jobId, owner, new Date(deps.clock.now().getTime() + leaseMs), deps.clock.now());
  if (!job) return;
  const sleep = deps.sleep ?? defaultSleep;
  const handOver = async (delaySeconds = 0) => {
    // The lease goes along with the message: nobody else (a duplicate message, the sweeper)
    // sends before the next invocation, nor before Telegram allows it, and the next invocation
    // takes over without depending on clocks. Should the message be lost, the lease lapses.
    const until = new Date(deps.clock.now().getTime() + delaySeconds * 1000 + HANDOVER_GRACE_MS);
    await deps.jobs.acquireDeliveryLease(jobId, owner, until, deps.clock.now());
    await deps.queue.send([{ body: { kind: 'deliver', job_id: jobId, lease: owner }, delaySeconds }]);
  };

  /**
   * Sends, waiting out a short 429 in place; a longer one hands the job over to a delayed queue
   * message. False when handed over: this invocation is done.
   */
  const sendPaced = async (send: () => Promise<void>): Promise<boolean> => {
    for (;;) {
      try {
        await send();
        return true;
      } catch (error) {
        if (!(error instanceof DeliveryThrottledError)) throw error;
        const waitMs = error.retryAfterSeconds * 1000;
        if (error.retryAfterSeconds > MAX_INLINE_RETRY_AFTER_S || invocation.remainingMs() - waitMs < SAFETY_MARGIN_MS) {
          await handOver(Math.min(MAX_QUEUE_DELAY_S, Math.ceil(error.retryAfterSeconds)));
          return false;
        }
        await sleep(waitMs);
      }
    }
  };

  try {
    if (job.exportType === 'file') {
      const codes = await deps.codes.jobCodes(jobId);
      const document = { filename: `access-codes-${job.batchId}.csv`, content: codesCsv(job, codes), caption: fileCaption(job) };
      if (!(await sendPaced(() => deps.telegram.sendDocument(job.telegramChatId, document)))) return;
      await deps.jobs.completeJob(jobId, owner, deps.clock.now());
      return;
    }

    let delivered = job.deliveredCount;
    while (delivered < job.quantity) {
      const codes = await deps.codes.jobCodes(jobId, delivered, 100);
      if (codes.length === 0) throw new Error(`job ${jobId} is marked generated but has no code from slot ${delivered}`);
      for (const { slot, code } of codes) {
        if (invocation.remainingMs() < SAFETY_MARGIN_MS) return await handOver();
        if (!(await sendPaced(() => deps.telegram.sendMessage(job.telegramChatId, messageText(job, slot, code))))) return;
        delivered = slot + 1;
        if (!(await deps.jobs.recordDelivered(jobId, owner, delivered, deps.clock.now()))) return; // lease lost
        if (delivered < job.quantity) await sleep(deps.messageIntervalMs);
      }
    }
    await deps.jobs.completeJob(jobId, owner, deps.clock.now());
  } catch (error) {
    if (error instanceof DeliveryRefusedError) {
      logger.warn('telegram refused delivery; failing the job', { job_id: jobId, reason: error.reason });
      await deps.jobs.failJob(jobId, { code: `telegram_${error.reason}`, message: error.message }, deps.clock.now());
      return;
    }
    await deps.jobs.releaseLease(jobId, owner).catch(() => undefined);
    throw error;
  }
};
