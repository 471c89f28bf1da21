import {
  SendMessageBatchCommand,
  type BatchResultErrorEntry,
  type SQSClient,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import type { MessageQueue } from '../../domain/ports';
import type { PipelineMessage } from '../../contracts/queue-messages';
import { MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, clampDelay } from './limits';
import { packInOrder } from '../batching';

/** Tuning of the retry of entries SQS reports as failed. */
export interface SqsJobQueueOptions {
  /** Calls per batch, the first included, before giving up on failed entries. Default 4. */
  maxAttempts?: number;
  /** Backoff before the first retry; doubled on each further retry, with jitter. Default 50 ms. */
  baseDelayMs?: number;
}

/** One entry SQS refused, as it reported it. */
export interface SqsEntryFailure {
  /** Position of the message in the array given to `send`. */
  index: number;
  code: string;
  senderFault: boolean;
  message?: string;
}

/**
 * Some messages were not enqueued. Messages that are not listed (and were not left unsent)
 * are on the queue, so a caller that retries the whole `send` enqueues those twice: fine for
 * an at-least-once queue whose consumers are idempotent.
 */
export class SqsSendError extends Error {
  constructor(
    readonly failures: SqsEntryFailure[],
    /** Messages after the failing batch that were not attempted at all. */
    readonly unsentCount: number,
    readonly totalCount: number,
    readonly attempts: number,
  ) {
    const first = failures[0];
    const cause = first ? `${first.code}${first.message ? `: ${first.message}` : ''}` : 'unknown';
    const kind = failures.some((f) => f.senderFault) ? 'refused (sender fault)' : `failed after ${attempts} attempts`;
    const unsent = unsentCount > 0 ? `; ${unsentCount} more not attempted` : '';
    super(`${failures.length} of ${totalCount} messages ${kind} on SQS SendMessageBatch (${cause})${unsent}`);
    this.name = 'SqsSendError';
  }
}

/** A pipeline queue on SQS (the generation queue by default): `MessageQueue` over SendMessageBatch. */
export class SqsJobQueue<M = PipelineMessage> implements MessageQueue<M> {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    options: SqsJobQueueOptions = {},
  ) {
    this.maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 4));
    this.baseDelayMs = Math.max(0, options.baseDelayMs ?? 50);
  }

  /** Sends in batches of at most 10 entries and 256 KiB, retrying only the entries SQS failed. */
  async send(messages: ReadonlyArray<{ body: M; delaySeconds?: number }>): Promise<void> {
    // Every message is encoded and checked before the first call, so a bad one sends nothing.
    const entries = messages.map((message, index) => toEntry(message, index));
    const batches = packBatches(entries);
    let sent = 0;
    for (const batch of batches) {
      await this.sendBatch(batch, messages.length, messages.length - sent - batch.length);
      sent += batch.length;
    }
  }

  private async sendBatch(batch: Entry[], totalCount: number, unsentAfter: number): Promise<void> {
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      const out = await this.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending.map((e) => e.request) }),
      );
      const succeeded = new Set((out.Successful ?? []).map((s) => s.Id));
      const reported = new Map((out.Failed ?? []).map((f) => [f.Id, f]));
      // An entry SQS neither confirmed nor refused is not known to be enqueued: treat it as a
      // transient failure rather than assume it arrived.
      const failed = pending.filter((e) => !succeeded.has(e.request.Id));
      if (failed.length === 0) return;

      const failures = failed.map((e) => toFailure(e, reported.get(e.request.Id)));
      // A sender fault (bad body, bad delay, …) fails the same way on every retry.
      if (failures.some((f) => f.senderFault)) {
        throw new SqsSendError(failures, unsentAfter, totalCount, attempt);
      }
      if (attempt >= this.maxAttempts) {
        throw new SqsSendError(failures, unsentAfter, totalCount, attempt);
      }
      await sleep(backoff(this.baseDelayMs, attempt));
      pending = failed;
    }
  }
}

interface Entry {
  index: number;
  bytes: number;
  request: SendMessageBatchRequestEntry;
}

const toEntry = (message: { body: unknown; delaySeconds?: number }, index: number): Entry => {
  const body = JSON.stringify(message.body);
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_BATCH_BYTES) {
    throw new RangeError(`Message ${index} is ${bytes} bytes; SQS accepts at most ${MAX_BATCH_BYTES}.`);
  }
  // The id is the message's position: unique within each call, stable across retries, and
  // it maps a failure back to the caller's message.
  const request: SendMessageBatchRequestEntry = { Id: `m${index}`, MessageBody: body };
  if (message.delaySeconds !== undefined) request.DelaySeconds = clampDelay(message.delaySeconds, index);
  return { index, bytes, request };
};

/** Greedy packing in order: a batch closes at 10 entries or when the next body would pass 256 KiB. */
const packBatches = (entries: Entry[]): Entry[][] => packInOrder(entries, MAX_BATCH_ENTRIES, MAX_BATCH_BYTES, (entry) => entry.bytes);

const toFailure = (entry: Entry, reported: BatchResultErrorEntry | undefined): SqsEntryFailure => {
  const failure: SqsEntryFailure = {
    index: entry.index,
    code: reported?.Code ?? 'NotAcknowledged',
    senderFault: reported?.SenderFault === true,
  };
  if (reported?.Message) failure.message = reported.Message;
  else if (!reported) failure.message = 'SQS reported the entry neither successful nor failed';
  return failure;
};

/** Exponential with equal jitter: half fixed, half random, so retries of many senders spread out. */
const backoff = (baseMs: number, attempt: number): number => {
  const ceiling = baseMs * 2 ** (attempt - 1);
  return ceiling / 2 + Math.random() * (ceiling / 2);
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
