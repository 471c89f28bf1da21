import { createHash } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import {
  FunctionTimeoutError,
  InProcessQueue,
  InvalidBatchResponseError,
  type DeadLetter,
  type InProcessQueueOptions,
  type SqsHandler,
} from '../../local/in-process-queue';
import type { PipelineMessage } from '../../functions/contracts/queue-messages';

// One simulated second lasts 10 ms: the 30 s visibility timeout below is 300 ms of real time,
// the 20 s function timeout 200 ms, long enough that a trivial handler never hits it.
const SCALE = 0.01;
const VISIBILITY_MS = 30_000 * SCALE;

const queues: InProcessQueue[] = [];
const batchErrors: unknown[] = [];
const makeQueue = (options: InProcessQueueOptions = {}): InProcessQueue => {
  const queue = new InProcessQueue({
    timeScale: SCALE,
    visibilityTimeoutSeconds: 30,
    functionTimeoutSeconds: 20,
    pollIntervalMs: 2,
    onBatchError: (error) => batchErrors.push(error),
    ...options,
  });
  queues.push(queue);
  return queue;
};

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop()));
  batchErrors.length = 0;
});

const chunk = (n: number): PipelineMessage => ({ kind: 'generate-chunk', job_id: 'mjb_1', chunk: n });
const chunkOf = (record: SQSRecord): number => (JSON.parse(record.body) as { chunk: number }).chunk;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A handler that records every delivery (with its real arrival time) and answers with `answer`. */
const recorder = (answer: (event: SQSEvent, call: number) => SQSBatchResponse | void | Promise<SQSBatchResponse | void>) => {
  const deliveries: Array<{ record: SQSRecord; at: number; call: number }> = [];
  let calls = 0;
  const handler: SqsHandler = async (event) => {
    const call = ++calls;
    for (const record of event.Records) deliveries.push({ record, at: Date.now(), call });
    return answer(event, call);
  };
  return { handler, deliveries, calls: () => calls };
};

const failIds = (...ids: string[]): SQSBatchResponse => ({ batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })) });

describe('InProcessQueue', () => {
  test('delivers records shaped like SQS records, with a Lambda-like context', async () => {
    const queue = makeQueue({ queueName: 'gen', region: 'eu-west-1', accountId: '123456789012' });
    let seen: { event: SQSEvent; context: Context; remainingAtStart: number; remainingLater: number } | undefined;
    queue.start(async (event, context) => {
      const remainingAtStart = context.getRemainingTimeInMillis();
      await sleep(30);
      seen = { event, context, remainingAtStart, remainingLater: context.getRemainingTimeInMillis() };
    });
    const sentAt = Date.now();

    await queue.send([{ body: chunk(7) }]);
    await queue.drain();

    const record = seen?.event.Records[0];
    const body = JSON.stringify(chunk(7));
    expect(seen?.event.Records).toHaveLength(1);
    expect(record).toEqual({
      messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      receiptHandle: expect.any(String),
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d{13}$/),
        SenderId: '123456789012',
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
      },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:gen',
      awsRegion: 'eu-west-1',
    });
    expect(Number(record?.attributes.SentTimestamp)).toBeGreaterThanOrEqual(sentAt);
    expect(seen?.context).toMatchObject({
      functionName: 'gen-consumer',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:gen-consumer',
      awsRequestId: expect.any(String),
    });
    // Simulated milliseconds, counting down from the 20 s function timeout.
    expect(seen?.remainingAtStart).toBeGreaterThan(0);
    expect(seen?.remainingAtStart).toBeLessThanOrEqual(20_000);
    expect(seen?.remainingLater).toBeLessThan(seen?.remainingAtStart ?? 0);
  });

  test('redelivers a record the handler failed, only after the visibility timeout, with a higher receive count', async () => {
    const queue = makeQueue();
    const { handler, deliveries } = recorder((event, call) => (call === 1 ? failIds(event.Records[0]!.messageId) : undefined));
    queue.start(handler);

    await queue.send([{ body: chunk(1) }]);
    await queue.idle();
    // Handled once and failed: still on the queue, invisible, not yet redelivered.
    expect(deliveries).toHaveLength(1);
    expect(queue.depth).toBe(1);

    await queue.drain();

    const [first, second] = deliveries;
    expect(deliveries).toHaveLength(2);
    expect(second?.record.messageId).toBe(first?.record.messageId);
    expect(second?.record.receiptHandle).not.toBe(first?.record.receiptHandle);
    expect(second?.record.body).toBe(first?.record.body);
    expect(second?.record.attributes.ApproximateReceiveCount).toBe('2');
    expect(second?.record.attributes.ApproximateFirstReceiveTimestamp).toBe(first?.record.attributes.ApproximateFirstReceiveTimestamp);
    // The timeout runs from the first receive, which is after the send: the redelivery can come
    // no sooner than send + timeout. (The first handler call may start late under load, so the
    // gap between the two handler calls is not a sound bound.)
    expect((second?.at ?? 0) - Number(first?.record.attributes.SentTimestamp)).toBeGreaterThanOrEqual(VISIBILITY_MS - 1);
    expect(queue.counters).toMatchObject({ sent: 1, received: 2, deleted: 1, deadLettered: 0 });
  });

  test('a partial batch failure deletes the records that succeeded and redelivers only the failed ones', async () => {
    const queue = makeQueue();
    await queue.send([0, 1, 2, 3, 4].map((n) => ({ body: chunk(n) })));
    const { handler, deliveries } = recorder((event, call) =>
      call === 1 ? failIds(...event.Records.filter((r) => chunkOf(r) % 2 === 1).map((r) => r.messageId)) : undefined,
    );

    queue.start(handler);
    await queue.drain();

    const byCall = (call: number) => deliveries.filter((d) => d.call === call).map((d) => chunkOf(d.record)).sort();
    expect(byCall(1)).toEqual([0, 1, 2, 3, 4]);
    expect(byCall(2)).toEqual([1, 3]);
    expect(queue.counters).toMatchObject({ sent: 5, received: 7, deleted: 5, invocations: 2, failedInvocations: 0 });
  });

  test('moves a message to the dead-letter list after maxReceiveCount receives and reports it', async () => {
    const deadLettered: DeadLetter[] = [];
    const queue = makeQueue({ maxReceiveCount: 3, onDeadLetter: (message) => void deadLettered.push(message) });
    const { handler, deliveries } = recorder((event) => failIds(...event.Records.map((r) => r.messageId)));
    queue.start(handler);

    await queue.send([{ body: chunk(9) }]);
    await queue.drain();

    expect(deliveries.map((d) => d.record.attributes.ApproximateReceiveCount)).toEqual(['1', '2', '3']);
    expect(queue.deadLetters).toEqual([
      {
        messageId: deliveries[0]?.record.messageId,
        body: JSON.stringify(chunk(9)),
        receiveCount: 3,
        sentTimestamp: Number(deliveries[0]?.record.attributes.SentTimestamp),
        deadLetteredAt: expect.any(Number),
      },
    ]);
    expect(deadLettered).toEqual(queue.deadLetters);
    expect(queue.counters).toMatchObject({ sent: 1, received: 3, deleted: 0, deadLettered: 1 });
    expect(queue.depth).toBe(0);
  });

  test('honours DelaySeconds: a delayed message is not delivered before its delay', async () => {
    const queue = makeQueue();
    const { handler, deliveries } = recorder(() => undefined);
    queue.start(handler);
    const sentAt = Date.now();

    await queue.send([{ body: chunk(1), delaySeconds: 20 }, { body: chunk(2) }]);
    await queue.idle();
    expect(deliveries.map((d) => chunkOf(d.record))).toEqual([2]);

    await queue.drain();

    expect(deliveries.map((d) => chunkOf(d.record))).toEqual([2, 1]);
    expect((deliveries[1]?.at ?? 0) - sentAt).toBeGreaterThanOrEqual(20_000 * SCALE);
  });

  test('a handler that throws fails the whole batch, which is redelivered', async () => {
    const queue = makeQueue();
    await queue.send([0, 1, 2].map((n) => ({ body: chunk(n) })));
    const { handler, deliveries } = recorder((_event, call) => {
      if (call === 1) throw new Error('downstream unavailable');
    });

    queue.start(handler);
    await queue.drain();

    const counts = deliveries.map((d) => [chunkOf(d.record), d.record.attributes.ApproximateReceiveCount]);
    expect(counts.filter(([, count]) => count === '1').map(([n]) => n).sort()).toEqual([0, 1, 2]);
    expect(counts.filter(([, count]) => count === '2').map(([n]) => n).sort()).toEqual([0, 1, 2]);
    expect(batchErrors).toEqual([new Error('downstream unavailable')]);
    expect(queue.counters).toMatchObject({ received: 6, deleted: 3, invocations: 2, failedInvocations: 1 });
  });

  test('an answer naming an unknown messageId fails the whole batch, as Lambda does', async () => {
    const queue = makeQueue();
    await queue.send([0, 1].map((n) => ({ body: chunk(n) })));
    const { handler, deliveries } = recorder((_event, call) => (call === 1 ? failIds('not-a-message-id') : undefined));

    queue.start(handler);
    await queue.drain();

    expect(deliveries).toHaveLength(4);
    expect(batchErrors).toEqual([expect.any(InvalidBatchResponseError)]);
  });

  test('a handler that outlives the function timeout fails its batch, which is redelivered', async () => {
    const queue = makeQueue({ functionTimeoutSeconds: 5 });
    const { handler, deliveries } = recorder(async (_event, call) => {
      if (call === 1) await sleep(5_000 * SCALE * 3);
    });
    queue.start(handler);

    await queue.send([{ body: chunk(1) }]);
    await queue.drain();

    expect(deliveries.map((d) => d.record.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect(batchErrors).toEqual([expect.any(FunctionTimeoutError)]);
    expect((batchErrors[0] as Error).message).toBe('Task timed out after 5 seconds');
  });

  test('never runs more than maxConcurrency batches at once', async () => {
    const queue = makeQueue({ maxConcurrency: 2, batchSize: 1 });
    let running = 0;
    let peak = 0;
    queue.start(async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(15);
      running--;
    });

    await queue.send(Array.from({ length: 10 }, (_, n) => ({ body: chunk(n) })));
    await queue.drain();

    expect(peak).toBe(2);
    expect(queue.counters).toMatchObject({ received: 10, deleted: 10, invocations: 10 });
  });

  test('batches hold at most batchSize records', async () => {
    const queue = makeQueue({ batchSize: 4 });
    await queue.send(Array.from({ length: 10 }, (_, n) => ({ body: chunk(n) })));
    const sizes: number[] = [];

    queue.start(async (event) => void sizes.push(event.Records.length));
    await queue.drain();

    expect(sizes.sort()).toEqual([2, 4, 4]);
  });

  test('stop() waits for the batches in flight, applies their outcome, then delivers nothing more', async () => {
    const queue = makeQueue();
    let release: () => void = () => undefined;
    const started = new Promise<void>((resolveStarted) => {
      queue.start(async () => {
        resolveStarted();
        await new Promise<void>((resolve) => (release = resolve));
      });
    });
    await queue.send([{ body: chunk(1) }]);
    await started;

    let stopped = false;
    const stopping = queue.stop().then(() => (stopped = true));
    await sleep(20);
    expect(stopped).toBe(false);

    release();
    await stopping;
    expect(queue.counters.deleted).toBe(1);

    await queue.send([{ body: chunk(2) }]);
    await sleep(20);
    expect(queue.counters.received).toBe(1);
    expect(queue.depth).toBe(1);
    await expect(queue.drain()).rejects.toThrow(/needs a started consumer/);
  });

  test('refuses a visibility timeout shorter than the function timeout, as the event source mapping does', () => {
    expect(() => new InProcessQueue({ visibilityTimeoutSeconds: 10, functionTimeoutSeconds: 30 })).toThrow(RangeError);
  });
});
