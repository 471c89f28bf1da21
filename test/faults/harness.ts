import { marshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, Context, DynamoDBRecord, DynamoDBStreamEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import type { BillingMessage } from '../../functions/contracts/queue-messages';
import type { BillingQueue, MessageQueue, WebhookRetryScheduler } from '../../functions/domain/ports';
import { webhookDeliveryMessage, type WebhookDeliveryMessage } from '../../functions/contracts/queue-messages';
import { localLambdaContext, runInvocation } from '../../local/lambda-context';
import { injectCrash, type CrashInjection } from '../support/pipeline';

// The queue and stream side of the fault suite: consumers are the real handlers, invoked the way
// Lambda invokes them (an SQS or DynamoDB Streams event and a context); what they send onward is
// kept, so the test plays the queue: redelivers what failed, duplicates, reorders.

/** A message as a producer handed it to a queue. */
export interface Queued<M> {
  body: M;
  delaySeconds?: number;
}

/** A queue port that keeps what was sent, for the test to deliver (or not) as SQS would. */
export class RecordingQueue<M> implements MessageQueue<M> {
  readonly sent: Array<Queued<M>> = [];
  /** Everything ever sent, never taken away (for counting). */
  readonly history: Array<Queued<M>> = [];

  async send(messages: ReadonlyArray<Queued<M>>): Promise<void> {
    this.sent.push(...messages);
    this.history.push(...messages);
  }

  /** Removes and returns the messages `which` selects (all by default), oldest first. */
  take(which: (body: M) => boolean = () => true): Array<Queued<M>> {
    const taken = this.sent.filter((message) => which(message.body));
    for (const message of taken) this.sent.splice(this.sent.indexOf(message), 1);
    return taken;
  }
}

// The adapters below are classes: a crash is injected by shadowing a prototype method.

/** The webhook retry scheduler over a recording queue of webhook delivery messages. */
export class RecordingScheduler implements WebhookRetryScheduler {
  constructor(private readonly queue: RecordingQueue<WebhookDeliveryMessage>) {}
  scheduleRetry(deliveryId: string, delaySeconds: number, target?: { attempt?: number; endpointId?: string }): Promise<void> {
    return this.queue.send([{ body: webhookDeliveryMessage(deliveryId, target), delaySeconds }]);
  }
}

/** The billing queue port over a recording queue of billing messages. */
export class RecordingBillingQueue implements BillingQueue {
  constructor(private readonly queue: RecordingQueue<BillingMessage>) {}
  send(messages: readonly BillingMessage[]): Promise<void> {
    return this.queue.send(messages.map((body) => ({ body })));
  }
}

let messageCounter = 0;

/** An SQS event of these bodies, one record each, as the event source mapping hands them over. */
export const sqsEvent = (bodies: readonly unknown[]): SQSEvent => ({
  Records: bodies.map((body): SQSRecord => {
    const messageId = `msg-${++messageCounter}`;
    return {
      messageId,
      receiptHandle: messageId,
      body: JSON.stringify(body),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'fault-suite',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:local:000000000000:fault-suite',
      awsRegion: 'local',
    };
  }),
});

let sequence = 1_000;

/** A DynamoDB Streams record of a write of `item` (NEW_AND_OLD_IMAGES), as the stream hands it over. */
export const streamRecord = (eventName: 'INSERT' | 'MODIFY', item: Record<string, unknown>, oldItem?: Record<string, unknown>): DynamoDBRecord => {
  const image = marshall(item, { removeUndefinedValues: true }) as Record<string, AttributeValue>;
  return {
    eventID: `fault-${sequence}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'local',
    eventSourceARN: 'arn:aws:dynamodb:local:000000000000:table/faults/stream/2026-01-01T00:00:00.000',
    dynamodb: {
      Keys: { pk: image.pk!, sk: image.sk! },
      NewImage: image,
      ...(oldItem ? { OldImage: marshall(oldItem, { removeUndefinedValues: true }) as Record<string, AttributeValue> } : {}),
      SequenceNumber: String(sequence++).padStart(21, '0'),
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
};

type Handler<E> = (event: E, context: Context) => Promise<unknown>;

/** Invokes a handler as Lambda would; a throw is returned, not raised (Lambda reports it as the invocation's failure). */
export const invoke = async <E>(handler: Handler<E>, event: E, functionName: string): Promise<{ result?: unknown; error?: unknown }> => {
  const context = localLambdaContext({ functionName, remainingMs: () => 50_000 });
  try {
    return { result: await runInvocation(context, () => handler(event, context)) };
  } catch (error) {
    return { error };
  }
};

const failedIds = (outcome: { result?: unknown; error?: unknown }): Set<string> | 'all' => {
  if (outcome.error !== undefined) return 'all';
  const failures = (outcome.result as { batchItemFailures?: Array<{ itemIdentifier: string }> } | undefined)?.batchItemFailures ?? [];
  return new Set(failures.map((failure) => failure.itemIdentifier));
};

/** Runs an SQS handler on these bodies as one batch; returns the bodies SQS would redeliver. */
export const runSqs = async <M>(handler: Handler<SQSEvent>, bodies: readonly M[], functionName = 'consumer'): Promise<M[]> => {
  const event = sqsEvent(bodies);
  const failed = failedIds(await invoke(handler, event, functionName));
  return bodies.filter((_, i) => failed === 'all' || failed.has(event.Records[i]!.messageId));
};

/**
 * Runs a stream handler on these records as one batch; returns what the event source mapping
 * hands over next: with ReportBatchItemFailures, the batch again from its first failed record.
 */
export const runStream = async (handler: Handler<DynamoDBStreamEvent>, records: readonly DynamoDBRecord[], functionName = 'stream'): Promise<DynamoDBRecord[]> => {
  const failed = failedIds(await invoke(handler, { Records: [...records] }, functionName));
  if (failed === 'all') return [...records];
  const first = records.findIndex((record) => failed.has(record.dynamodb!.SequenceNumber!));
  return first < 0 ? [] : records.slice(first);
};

/** Feeds stream records to a handler until none is left to retry (a bounded number of rounds). */
export const streamUntilDone = async (handler: Handler<DynamoDBStreamEvent>, records: readonly DynamoDBRecord[], maxRounds = 10): Promise<number> => {
  let pending = [...records];
  for (let round = 1; round <= maxRounds; round++) {
    pending = await runStream(handler, pending);
    if (pending.length === 0) return round;
  }
  throw new Error(`stream records still failing after ${maxRounds} rounds`);
};

/** One write of a consumer, in the order it makes it: `method` of `target`, its `nth` call. */
export interface Write {
  label: string;
  target: () => object;
  method: string;
  nth: number;
}

/** The writes of a consumer, numbered `k of n` for test names. */
export const numbered = (writes: readonly Write[]): Array<[string, Write]> =>
  writes.map((write, i) => [`${i + 1} of ${writes.length} (${write.label})`, write]);

/** Crashes right after the write commits (the process dies before its next step). */
export const crashAfter = (write: Write): CrashInjection =>
  injectCrash(write.target() as Record<string, unknown>, write.method as never, 'after', [write.nth]);

/** `n` copies of `f()` run at once. */
export const concurrently = <T>(n: number, f: () => Promise<T>): Promise<T[]> => Promise.all(Array.from({ length: n }, f));

/** How often each value occurs. */
export const tally = (values: readonly string[]): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
};
