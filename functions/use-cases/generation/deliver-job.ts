import { randomUUID } from 'node:crypto';
import { DELIVERY_SAFETY_MARGIN_MS, MAX_DELIVERY_HOPS, groupMessageIntervalFor } from '../../contracts/pipeline-settings';
import { deliverMessage, type DeliverMessage } from '../../contracts/queue-messages';
import { isGroupChat, type ChatLeases } from '../../domain/chat-leases';
import { DeliveryRefusedError, DeliveryThrottledError } from '../../domain/errors';
import type { CodeStore, JobStore } from '../../domain/ports';
import { isTerminal, type Job, type JobFailure } from '../../domain/jobs';
import type { Clock, MessageQueue, TelegramSender } from '../../domain/ports';
import { logger } from '../../observability';
import { codeMessage, codesDocument } from './delivery-formats';

/** Dependencies of the deliverer. */
export interface DeliveryDeps {
  jobs: JobStore;
  codes: CodeStore;
  /** One delivering job per chat. */
  chats: ChatLeases;
  /** The delivery queue: hand-overs, and the turn of the next job waiting for a chat. */
  deliveries: MessageQueue<DeliverMessage>;
  telegram: TelegramSender;
  clock: Clock;
  /** Pause between two messages to one private chat (Telegram allows about one a second). */
  messageIntervalMs: number;
  /**
   * Pause between two messages to one group (negative chat id; Telegram allows about 20 a
   * minute). Default: `groupMessageIntervalFor(messageIntervalMs)`, 3100 ms for the production
   * 1100 ms, so that a scaled-down private pace scales groups with it.
   */
  groupMessageIntervalMs?: number;
  /** Waits; injectable so tests need not. */
  sleep?: (ms: number) => Promise<void>;
}

/** What delivery needs to know of the invocation running it. */
export interface Invocation {
  remainingMs(): number;
}

/** What one delivery call did. */
export interface DeliveryRun {
  /** Messages (a code each, or the CSV) Telegram took. */
  messagesSent: number;
  /** Telegram's 429 answers (each waited out in place or handed over as a queue delay). */
  throttled: number;
  /** Whether this call completed the job. */
  completed: boolean;
  /** Whether this call failed the job (too many hand-overs, or Telegram refused for good). */
  failed: boolean;
}

/** A delivery run that has done nothing yet. */
export const deliveryRun = (): DeliveryRun => ({ messagesSent: 0, throttled: 0, completed: false, failed: false });

/** Stop sending and hand over to a fresh invocation when less than this is left. */
export const SAFETY_MARGIN_MS = DELIVERY_SAFETY_MARGIN_MS;
/** A handed-over lease outlives its message's delay by this much, in case the queue is slow to deliver it. */
const HANDOVER_GRACE_MS = 60_000;
/** Longest Telegram back-off waited out in place; longer ones go back to the queue as a delay. */
const MAX_INLINE_RETRY_AFTER_S = 5;
/** SQS cannot delay a message longer than this. */
const MAX_QUEUE_DELAY_S = 900;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What is left to do once a job ended: hand its chat to the next job waiting for it. */
const passChatOn = async (deps: DeliveryDeps, job: Pick<Job, 'id' | 'createdAt' | 'telegramChatId'>): Promise<void> => {
  const now = deps.clock.now();
  const next = await deps.chats.release(job.telegramChatId, job, new Date(now.getTime() + HANDOVER_GRACE_MS), now);
  if (next) await deps.deliveries.send([{ body: deliverMessage(next) }]);
};

/** Fails a job for a reason of delivery's own, recorded in `done`, and passes its chat on. */
const failDelivery = async (deps: DeliveryDeps, job: Job, failure: JobFailure, done: DeliveryRun): Promise<void> => {
  if (await deps.jobs.failJob(job.id, failure, deps.clock.now())) done.failed = true;
  await passChatOn(deps, job);
};

/**
 * Delivers a generated job to the creator's chat, resumably, one job per chat at a time.
 * 1. Take the job's delivery lease, or the one handed over with the message (another holder
 *    means another invocation is at it; a job that has ended passes on a chat it still holds).
 * 2. Past MAX_DELIVERY_HOPS re-queues the job is looping, not progressing: fail it with
 *    `too_many_handovers`.
 * 3. Take the chat's lease. A busy chat: the job waits for its turn (recorded in the table) and
 *    this message ends; the holder hands the chat on when it is done. Nothing is sent yet.
 * 4. file: send the CSV once and complete. messages: send from the persisted cursor, one
 *    message per code, one per interval (the group pace for a group, ~20 a minute) counted from
 *    the previous send (and a whole interval after the chat's previous sender, whoever it was), recording
 *    the cursor after each send, so that a crash re-sends at most the message in flight; hand
 *    over to a new queue message, hop counted, before the time runs out.
 * 5. Completed or refused (a permanent Telegram refusal fails the job with its reason), the job
 *    hands its chat to the next waiting job. A Telegram 429 waits out short back-offs, and
 *    longer ones become a queue delay; anything else is retried by the queue, the chat kept.
 * `done` is filled as the work happens, so a caller that hands one in reads what was sent even
 * when the call throws part-way.
 */
export const deliverJob = async (deps: DeliveryDeps, message: DeliverMessage, invocation: Invocation, done: DeliveryRun = deliveryRun()): Promise<DeliveryRun> => {
  const jobId = message.job_id;
  const hops = message.hops ?? 0;
  const owner = message.lease ?? randomUUID();
  const leaseUntil = () => new Date(deps.clock.now().getTime() + Math.max(30_000, invocation.remainingMs() + 5_000));
  const job = await deps.jobs.acquireDeliveryLease(jobId, owner, leaseUntil(), deps.clock.now());
  if (!job) {
    const current = await deps.jobs.getJob(jobId);
    if (current && isTerminal(current.status)) await passChatOn(deps, current);
    return done;
  }
  if (hops > MAX_DELIVERY_HOPS) {
    logger.error('delivery re-queued itself too often; failing the job', { job_id: jobId, hops });
    const failure = { code: 'too_many_handovers', message: `Delivery was handed over ${hops} times without finishing; the job was stopped.` };
    await failDelivery(deps, job, failure, done);
    return done;
  }
  const chatId = job.telegramChatId;
  if (!(await deps.chats.acquire(chatId, job, leaseUntil(), deps.clock.now()))) {
    await deps.chats.wait(chatId, job);
    // The holder may have ended between the two calls: then the chat is free (or ours) now.
    if (!(await deps.chats.acquire(chatId, job, leaseUntil(), deps.clock.now()))) {
      await deps.jobs.releaseLease(jobId, owner);
      return done;
    }
  }

  const sleep = deps.sleep ?? defaultSleep;
  const intervalMs = isGroupChat(chatId) ? (deps.groupMessageIntervalMs ?? groupMessageIntervalFor(deps.messageIntervalMs)) : deps.messageIntervalMs;
  const handOver = async (delaySeconds = 0) => {
    // The leases go along with the message: nobody else (a duplicate message, the sweeper,
    // another job for the chat) sends before the next invocation, nor before Telegram allows
    // it, and the next invocation takes over without depending on clocks. Should the message be
    // lost, the leases lapse.
    const now = deps.clock.now();
    const until = new Date(now.getTime() + delaySeconds * 1000 + HANDOVER_GRACE_MS);
    await deps.jobs.acquireDeliveryLease(jobId, owner, until, now);
    await deps.chats.acquire(chatId, job, until, now);
    await deps.deliveries.send([{ body: deliverMessage(jobId, { lease: owner, hops: hops + 1 }), delaySeconds }]);
  };

  /**
   * Sends, waiting out a short 429 in place; a longer one hands the job over to a delayed queue
   * message. False when handed over: this invocation is done.
   */
  const sendPaced = async (send: () => Promise<void>): Promise<boolean> => {
    for (;;) {
      try {
        await send();
        done.messagesSent++;
        return true;
      } catch (error) {
        if (!(error instanceof DeliveryThrottledError)) throw error;
        done.throttled++;
        const waitMs = error.retryAfterSeconds * 1000;
        if (error.retryAfterSeconds > MAX_INLINE_RETRY_AFTER_S || invocation.remainingMs() - waitMs < SAFETY_MARGIN_MS) {
          await handOver(Math.min(MAX_QUEUE_DELAY_S, Math.ceil(error.retryAfterSeconds)));
          return false;
        }
        await sleep(waitMs);
      }
    }
  };

  const complete = async () => {
    // Not completed means the lease was lost: whoever took it holds the chat as this job, and
    // passes it on when it ends.
    if (!(await deps.jobs.completeJob(jobId, owner, deps.clock.now()))) return;
    done.completed = true;
    await passChatOn(deps, job);
  };

  try {
    // The chat's last message (this job's previous invocation, or the job before it) may have
    // left a moment ago.
    await sleep(intervalMs);
    if (job.exportType === 'file') {
      const document = codesDocument(job, await deps.codes.jobCodes(jobId));
      if (!(await sendPaced(() => deps.telegram.sendDocument(chatId, document)))) return done;
      await complete();
      return done;
    }

    let delivered = job.deliveredCount;
    while (delivered < job.quantity) {
      const codes = await deps.codes.jobCodes(jobId, delivered, 100);
      if (codes.length === 0) throw new Error(`job ${jobId} is marked generated but has no code from slot ${delivered}`);
      for (const { slot, code } of codes) {
        if (invocation.remainingMs() < SAFETY_MARGIN_MS) {
          await handOver();
          return done;
        }
        let sentAt = deps.clock.now().getTime();
        const send = () => ((sentAt = deps.clock.now().getTime()), deps.telegram.sendMessage(chatId, codeMessage(job, slot, code)));
        if (!(await sendPaced(send))) return done;
        delivered = slot + 1;
        if (!(await deps.jobs.recordDelivered(jobId, owner, delivered, deps.clock.now()))) return done; // lease lost
        // The interval runs from the last send attempt, not from the end of the work after it:
        // one message per interval, rather than one per interval plus a send and a write.
        if (delivered < job.quantity) await sleep(Math.max(0, intervalMs - (deps.clock.now().getTime() - sentAt)));
      }
    }
    await complete();
    return done;
  } catch (error) {
    if (error instanceof DeliveryRefusedError) {
      logger.warn('telegram refused delivery; failing the job', { job_id: jobId, reason: error.reason });
      await failDelivery(deps, job, { code: `telegram_${error.reason}`, message: error.message }, done);
      return done;
    }
    await deps.jobs.releaseLease(jobId, owner).catch(() => undefined);
    throw error;
  }
};
