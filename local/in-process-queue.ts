import { createHash, randomUUID } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { MAX_BATCH_BYTES, clampDelay } from '../functions/adapters/sqs/limits';
import type { MessageQueue } from '../functions/domain/ports';
import type { PipelineMessage } from '../functions/contracts/queue-messages';
import { localLambdaContext, runInvocation } from './lambda-context';

/** An SQS-triggered Lambda handler, as the event source mapping calls it. */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

/** How the stand-in queue and its consumer behave; durations are in (scaled) seconds. */
export interface InProcessQueueOptions {
  /** Name used in the queue ARN and the function name. Default `generation`. */
  queueName?: string;
  /** Region in ARNs and `awsRegion`. Default `us-east-1`. */
  region?: string;
  /** Account id in ARNs. Default `000000000000`. */
  accountId?: string;
  /** Invisibility after a receive; fractional allowed; must be ≥ the function timeout. Default 180. */
  visibilityTimeoutSeconds?: number;
  /** Receives before a message moves to the dead-letter list (redrive policy). Default 5. */
  maxReceiveCount?: number;
  /** Records per handler invocation, at most. Default 10. */
  batchSize?: number;
  /** Batches (handler invocations) in flight at once, at most. Default 2. */
  maxConcurrency?: number;
  /** Least real time between two polls for messages whose delay or visibility timeout ran out. Default 10 ms. */
  pollIntervalMs?: number;
  /** Lambda timeout: the countdown of `getRemainingTimeInMillis`, then the batch fails. Default 30. */
  functionTimeoutSeconds?: number;
  /** Lambda function name in the context. Default `<queueName>-consumer`. */
  functionName?: string;
  /**
   * Real seconds per simulated second, applied to visibility timeout, DelaySeconds and the
   * function timeout (and to what `getRemainingTimeInMillis` reports). 0.001 makes the
   * 180 s default visibility timeout last 180 ms. Default 1.
   */
  timeScale?: number;
  /**
   * Called when a message moves to the dead-letter list (after it has been added), e.g. to send
   * it on to a dead-letter queue with a consumer of its own, as a redrive policy does in AWS.
   */
  onDeadLetter?: (message: DeadLetter) => void | Promise<void>;
  /** Called when a whole batch fails: the handler threw, timed out or answered malformed. Default: console.error. */
  onBatchError?: (error: unknown, event: SQSEvent) => void;
}

/** A message that exhausted its receives, as kept in the dead-letter list. */
export interface DeadLetter {
  messageId: string;
  body: string;
  receiveCount: number;
  sentTimestamp: number;
  deadLetteredAt: number;
}

/** What the queue has done so far; receives count every delivery, redeliveries included. */
export interface QueueCounters {
  sent: number;
  received: number;
  deleted: number;
  deadLettered: number;
  invocations: number;
  failedInvocations: number;
}

/** The batch failed as a whole because the handler outlived the function timeout. */
export class FunctionTimeoutError extends Error {
  constructor(seconds: number) {
    super(`Task timed out after ${seconds} seconds`);
    this.name = 'FunctionTimeoutError';
  }
}

/** The handler's SQSBatchResponse named an item that is not in the batch; Lambda then fails the batch. */
export class InvalidBatchResponseError extends Error {
  constructor(identifier: unknown) {
    super(`batchItemFailures names ${JSON.stringify(identifier)}, which is not a messageId of the batch`);
    this.name = 'InvalidBatchResponseError';
  }
}

interface StoredMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  sentTimestamp: number;
  /** Real epoch ms from which a receive may return it. */
  visibleAt: number;
  receiveCount: number;
  firstReceiveTimestamp?: number;
  /** Handle of the latest receive; only it can delete the message. */
  receiptHandle?: string;
}

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * SQS and the Lambda event source mapping in one process, for the local stack and tests.
 * Standard-queue semantics: at-least-once delivery, visibility timeout, ApproximateReceiveCount,
 * DelaySeconds, dead-letter after `maxReceiveCount` receives, partial batch responses
 * (ReportBatchItemFailures), bounded concurrency and a Lambda timeout. No ordering guarantee
 * is implied by the insertion order it happens to use. Generic in its message type, like the
 * queue port: the generation queue by default.
 */
export class InProcessQueue<M = PipelineMessage> implements MessageQueue<M> {
  /** Messages that exhausted their receives, oldest first. */
  readonly deadLetters: DeadLetter[] = [];
  /** Running totals; see `QueueCounters`. */
  readonly counters: QueueCounters = { sent: 0, received: 0, deleted: 0, deadLettered: 0, invocations: 0, failedInvocations: 0 };
  /** The queue ARN records carry as `eventSourceARN`. */
  readonly arn: string;

  private readonly messages = new Map<string, StoredMessage>();
  private readonly inFlight = new Set<Promise<void>>();
  private waiters: Waiter[] = [];
  private handler: SqsHandler | undefined;
  private timer: NodeJS.Timeout | undefined;

  private readonly region: string;
  private readonly accountId: string;
  private readonly functionName: string;
  private readonly visibilityMs: number;
  private readonly functionTimeoutSeconds: number;
  private readonly functionTimeoutMs: number;
  private readonly maxReceiveCount: number;
  private readonly batchSize: number;
  private readonly maxConcurrency: number;
  private readonly pollIntervalMs: number;
  private readonly timeScale: number;
  private readonly onDeadLetter: InProcessQueueOptions['onDeadLetter'];
  private readonly onBatchError: NonNullable<InProcessQueueOptions['onBatchError']>;

  constructor(options: InProcessQueueOptions = {}) {
    const queueName = options.queueName ?? 'generation';
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.arn = `arn:aws:sqs:${this.region}:${this.accountId}:${queueName}`;
    this.functionName = options.functionName ?? `${queueName}-consumer`;
    this.timeScale = positive('timeScale', options.timeScale ?? 1);
    const visibility = inRange('visibilityTimeoutSeconds', options.visibilityTimeoutSeconds ?? 180, 0, 43_200);
    this.functionTimeoutSeconds = inRange('functionTimeoutSeconds', options.functionTimeoutSeconds ?? 30, 0, 900);
    // The event source mapping refuses a queue whose visibility timeout is shorter than the
    // function timeout: a batch still running would be redelivered to a second invocation.
    if (visibility < this.functionTimeoutSeconds) {
      throw new RangeError(`visibilityTimeoutSeconds (${visibility}) must be at least functionTimeoutSeconds (${this.functionTimeoutSeconds}).`);
    }
    this.visibilityMs = visibility * 1000 * this.timeScale;
    this.functionTimeoutMs = this.functionTimeoutSeconds * 1000 * this.timeScale;
    this.maxReceiveCount = integerInRange('maxReceiveCount', options.maxReceiveCount ?? 5, 1, 1000);
    this.batchSize = integerInRange('batchSize', options.batchSize ?? 10, 1, 10_000);
    this.maxConcurrency = integerInRange('maxConcurrency', options.maxConcurrency ?? 2, 1, 1000);
    this.pollIntervalMs = inRange('pollIntervalMs', options.pollIntervalMs ?? 10, 0, 60_000);
    this.onDeadLetter = options.onDeadLetter;
    this.onBatchError =
      options.onBatchError ??
      ((error) => console.error(`[${queueName}] batch failed, its messages will be redelivered:`, error));
  }

  /** Enqueues every message (SQS limits checked first, so a bad one enqueues nothing). */
  async send(messages: ReadonlyArray<{ body: M; delaySeconds?: number }>): Promise<void> {
    const prepared = messages.map((message, index) => {
      const body = JSON.stringify(message.body);
      if (Buffer.byteLength(body, 'utf8') > MAX_BATCH_BYTES) {
        throw new RangeError(`Message ${index} is larger than the ${MAX_BATCH_BYTES} bytes SQS accepts.`);
      }
      return { body, delayMs: clampDelay(message.delaySeconds ?? 0, index) * 1000 * this.timeScale };
    });
    const now = Date.now();
    for (const { body, delayMs } of prepared) {
      const messageId = randomUUID();
      this.messages.set(messageId, {
        messageId,
        body,
        md5OfBody: createHash('md5').update(body, 'utf8').digest('hex'),
        sentTimestamp: now,
        visibleAt: now + delayMs,
        receiveCount: 0,
      });
      this.counters.sent++;
    }
    this.pump();
  }

  /** Starts the consumer: from now on visible messages are delivered to `handler`. */
  start(handler: SqsHandler): void {
    if (this.handler) throw new Error('InProcessQueue consumer is already running.');
    this.handler = handler;
    this.pump();
  }

  /** Stops polling, then waits for the batches in flight to finish (their outcome still applies). */
  async stop(): Promise<void> {
    this.handler = undefined;
    this.clearTimer();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.settleWaiters();
  }

  /** True while a consumer is started. */
  get running(): boolean {
    return this.handler !== undefined;
  }

  /** Messages on the queue in any state (delayed, visible, in flight); dead letters excluded. */
  get depth(): number {
    return this.messages.size;
  }

  /**
   * Resolves when the queue is empty and no batch is in flight: every message deleted or
   * dead-lettered. Rejects when the consumer is (or gets) stopped first, or after `timeoutMs`.
   */
  drain(timeoutMs?: number): Promise<void> {
    return this.waitFor('drain', () => this.messages.size === 0 && this.inFlight.size === 0, timeoutMs);
  }

  /**
   * Resolves when nothing is visible and no batch is in flight; messages may still wait out a
   * delay or a visibility timeout. Rejects like `drain`.
   */
  idle(timeoutMs?: number): Promise<void> {
    return this.waitFor('idle', () => this.inFlight.size === 0 && !this.hasVisible(Date.now()), timeoutMs);
  }

  private waitFor(name: string, ready: () => boolean, timeoutMs: number | undefined): Promise<void> {
    if (ready()) return Promise.resolve();
    if (!this.handler) return Promise.reject(new Error(`InProcessQueue.${name}() needs a started consumer.`));
    return new Promise<void>((resolve, reject) => {
      let timeout: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        ready,
        resolve: () => {
          clearTimeout(timeout);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timeout);
          reject(error);
        },
      };
      if (timeoutMs !== undefined) {
        timeout = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`InProcessQueue.${name}() timed out after ${timeoutMs} ms: ${this.describe()}`));
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  private settleWaiters(): void {
    const pending: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.ready()) waiter.resolve();
      else if (!this.handler) waiter.reject(new Error(`InProcessQueue consumer stopped: ${this.describe()}`));
      else pending.push(waiter);
    }
    this.waiters = pending;
  }

  private describe(): string {
    return `${this.messages.size} messages on the queue, ${this.inFlight.size} batches in flight`;
  }

  private hasVisible(now: number): boolean {
    for (const message of this.messages.values()) if (message.visibleAt <= now) return true;
    return false;
  }

  /** Fills free concurrency slots with batches of visible messages, then sleeps until the next one is due. */
  private pump(): void {
    this.clearTimer();
    if (!this.handler) return;
    const now = Date.now();
    while (this.inFlight.size < this.maxConcurrency) {
      const batch = this.receive(now);
      if (batch.length === 0) break;
      this.dispatch(this.handler, batch);
    }
    this.settleWaiters();
    this.scheduleNextPoll(now);
  }

  /**
   * One ReceiveMessage: up to `batchSize` visible messages, each made invisible for the
   * visibility timeout under a fresh receipt handle. As with a redrive policy, a message already
   * received `maxReceiveCount` times moves to the dead-letter list instead of being returned.
   */
  private receive(now: number): SQSRecord[] {
    const records: SQSRecord[] = [];
    for (const message of this.messages.values()) {
      if (records.length === this.batchSize) break;
      if (message.visibleAt > now) continue;
      if (message.receiveCount >= this.maxReceiveCount) {
        this.deadLetter(message, now);
        continue;
      }
      message.receiveCount++;
      message.firstReceiveTimestamp ??= now;
      message.receiptHandle = randomUUID();
      message.visibleAt = now + this.visibilityMs;
      this.counters.received++;
      records.push(this.toRecord(message));
    }
    return records;
  }

  private toRecord(message: StoredMessage): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: message.receiptHandle ?? '',
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentTimestamp),
        SenderId: this.accountId,
        ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp ?? message.sentTimestamp),
      },
      messageAttributes: {},
      md5OfBody: message.md5OfBody,
      eventSource: 'aws:sqs',
      eventSourceARN: this.arn,
      awsRegion: this.region,
    };
  }

  private deadLetter(message: StoredMessage, now: number): void {
    this.messages.delete(message.messageId);
    const dead: DeadLetter = {
      messageId: message.messageId,
      body: message.body,
      receiveCount: message.receiveCount,
      sentTimestamp: message.sentTimestamp,
      deadLetteredAt: now,
    };
    this.deadLetters.push(dead);
    this.counters.deadLettered++;
    if (this.onDeadLetter) {
      // A failing callback must not stall the consumer loop; the message is kept either way.
      Promise.resolve()
        .then(() => this.onDeadLetter?.(dead))
        .catch((error: unknown) => console.error('[in-process-queue] onDeadLetter failed:', error));
    }
  }

  /**
   * One invocation. The slot stays taken until the handler settles, even past its timeout
   * (a promise cannot be killed), but a timed-out batch's outcome is decided at the timeout,
   * as Lambda's is: the whole batch fails.
   */
  private dispatch(handler: SqsHandler, records: SQSRecord[]): void {
    this.counters.invocations++;
    const event: SQSEvent = { Records: records };
    const deadline = Date.now() + this.functionTimeoutMs;
    const context = this.makeContext(deadline);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FunctionTimeoutError(this.functionTimeoutSeconds)), this.functionTimeoutMs);
    });
    const invocation = Promise.resolve().then(() => runInvocation(context, () => handler(event, context)));
    const outcome = Promise.race([invocation, timedOut])
      .then((response) => failedIds(records, response))
      .then(
        (failed) => this.complete(records, failed),
        (error: unknown) => this.fail(event, error),
      )
      .finally(() => clearTimeout(timer));
    const tracked = Promise.allSettled([outcome, invocation]).then(() => {
      this.inFlight.delete(tracked);
      this.pump();
    });
    this.inFlight.add(tracked);
  }

  /** Deletes the records that succeeded; failed ones reappear when their visibility timeout ends. */
  private complete(records: SQSRecord[], failed: Set<string>): void {
    for (const record of records) {
      if (!failed.has(record.messageId)) this.delete(record);
    }
  }

  private fail(event: SQSEvent, error: unknown): void {
    this.counters.failedInvocations++;
    this.onBatchError(error, event);
  }

  /**
   * DeleteMessage: only the latest receipt handle deletes. SQS documents that deleting with an
   * older handle "succeeds, but the message will not be deleted", so a message redelivered while
   * a slow consumer still held it survives that consumer's delete.
   */
  private delete(record: SQSRecord): void {
    const message = this.messages.get(record.messageId);
    if (message?.receiptHandle !== record.receiptHandle) return;
    this.messages.delete(record.messageId);
    this.counters.deleted++;
  }

  private makeContext(deadline: number): Context {
    return localLambdaContext({
      functionName: this.functionName,
      region: this.region,
      accountId: this.accountId,
      memoryLimitInMB: 1024,
      // Reported in simulated milliseconds, so code that stops "with 10 s to spare" behaves the
      // same under any timeScale.
      remainingMs: () => (deadline - Date.now()) / this.timeScale,
    });
  }


  /** Sleeps until the earliest delayed or invisible message is due, polling no more often than pollIntervalMs. */
  private scheduleNextPoll(now: number): void {
    if (!this.handler || this.inFlight.size >= this.maxConcurrency) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const message of this.messages.values()) earliest = Math.min(earliest, message.visibleAt);
    // An empty queue holds no timer, so an idle consumer never keeps the process alive; send() wakes it.
    if (earliest === Number.POSITIVE_INFINITY) return;
    const wait = Math.max(earliest - now, this.pollIntervalMs);
    this.timer = setTimeout(() => this.pump(), wait);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * The messageIds the handler reported as failed. Like Lambda, an answer naming an item that is
 * not in the batch (or naming none) fails the whole batch; no answer, or an empty list, means
 * every record succeeded.
 */
const failedIds = (records: SQSRecord[], response: SQSBatchResponse | void): Set<string> => {
  const failures = response?.batchItemFailures ?? [];
  const ids = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id: unknown = failure?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) throw new InvalidBatchResponseError(id);
    failed.add(id);
  }
  return failed;
};

const positive = (name: string, value: number): number => {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number, got ${value}.`);
  return value;
};

const inRange = (name: string, value: number, min: number, max: number): number => {
  if (!(Number.isFinite(value) && value >= min && value <= max)) {
    throw new RangeError(`${name} must be between ${min} and ${max}, got ${value}.`);
  }
  return value;
};

const integerInRange = (name: string, value: number, min: number, max: number): number => {
  if (!Number.isInteger(value)) throw new RangeError(`${name} must be an integer, got ${value}.`);
  return inRange(name, value, min, max);
};
