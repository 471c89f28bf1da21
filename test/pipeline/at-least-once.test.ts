import type { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store';
import type { DynamoCodeStore } from '../../functions/adapters/dynamodb/code-store';
import type { PipelineMessage } from '../../functions/contracts/queue-messages';
import { CHUNK_SIZE } from '../../functions/domain/jobs';
import { STALE_AFTER_MS } from '../../functions/use-cases/job-sweeper';
import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';
import {
  bulkGenerate,
  codeItemsOf,
  codesInMessages,
  createCreator,
  generatedEventsOf,
  injectCrash,
  listAllCodes,
  parseCsv,
  quietBatchFailures,
  startPipelineHarness,
  waitForJob,
  type CrashInjection,
  type PipelineHarness,
} from '../support/pipeline';

let fake: FakeTelegram;
let harness: PipelineHarness;
let creator: Awaited<ReturnType<typeof createCreator>>;
const undo: Array<() => void> = [];

beforeAll(async () => {
  quietBatchFailures();
  fake = await startFakeTelegram();
  harness = await startPipelineHarness(fake);
});
beforeEach(async () => {
  creator = await createCreator(harness);
});
afterEach(() => {
  while (undo.length) undo.pop()!();
  harness.apiQueueFault = undefined;
});
afterAll(async () => {
  await harness?.stop();
  await fake?.close();
});

const jobs = () => harness.deps.jobs as DynamoJobStore;
const codes = () => harness.deps.codes as DynamoCodeStore;
const crash = <T extends DynamoJobStore | DynamoCodeStore>(...args: Parameters<typeof injectCrash<T>>): CrashInjection => {
  const injection = injectCrash(...args);
  undo.push(injection.restore);
  return injection;
};

const fileJob = (quantity: number) => ({ plan_id: creator.planId, quantity, export_type: 'file', expiry_preset: 'no_expiry' });
const messagesJob = (quantity: number) => ({ ...fileJob(quantity), export_type: 'messages', consent: true });

const start = async (body: unknown): Promise<string> => {
  const answer = await bulkGenerate(harness, creator.token, body);
  expect(answer.status).toBe(202);
  return answer.body.data.job_id;
};

/** The job as the API shows it once nothing is left to run (a failed message waits out its visibility timeout). */
const settledView = async (jobId: string) => {
  await harness.idle(30_000);
  return (await harness.call('GET', `/v1/jobs/${jobId}`, { token: creator.token })).body.data;
};

/** What SQS does once the visibility timeout of a failed message ends: the same body again, on its queue. */
const redeliver = (body: PipelineMessage) =>
  body.kind === 'deliver' ? harness.deliveries.send([{ body }]) : harness.deps.queue.send([{ body }]);

/** Lets the sweeper see the job as stale, then runs it once. */
const sweepLater = async () => {
  harness.clock.advance(STALE_AFTER_MS + 1000);
  return harness.sweep();
};

/** Everything a completed file job must show, however often its steps ran: nothing doubled. */
const expectFileJobDoneOnce = async (jobId: string, quantity: number, maxDocuments = 1) => {
  const job = await waitForJob(harness, creator.token, jobId);
  expect(job).toMatchObject({ status: 'completed', generated_count: quantity, delivered_count: quantity });
  expect(await codeItemsOf(harness, jobId)).toHaveLength(quantity);
  expect(await generatedEventsOf(harness, job.batch_id)).toHaveLength(1);
  const documents = fake.documentsTo(creator.chatId);
  expect(documents.length).toBeGreaterThanOrEqual(1);
  expect(documents.length).toBeLessThanOrEqual(maxDocuments);
  const listed = (await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId, limit: '500' })).codes.map((c) => c.code).sort();
  expect(listed).toHaveLength(quantity);
  for (const document of documents) {
    expect(parseCsv(document.content).rows.map((row) => row.code).sort()).toEqual(listed);
  }
  return job;
};

describe('every queue message delivered twice', () => {
  beforeEach(() => {
    for (const queue of [harness.deps.queue, harness.deliveries] as Array<{ send: (messages: never) => Promise<void> }>) {
      const send = queue.send.bind(queue);
      queue.send = async (messages) => {
        await send(messages);
        await send(messages);
      };
      undo.push(() => delete (queue as unknown as Record<string, unknown>).send);
    }
  });

  test('a file job stores each code once, fires one generated event and sends one document', async () => {
    const sentBefore = harness.deps.queue.counters.sent + harness.deliveries.counters.sent;
    const jobId = await start(fileJob(300));
    await expectFileJobDoneOnce(jobId, 300);
    await harness.deps.queue.drain(30_000);
    await harness.deliveries.drain(30_000);
    // 2 chunks and at least 1 delivery, each sent twice: the duplicates really ran.
    expect(harness.deps.queue.counters.sent - sentBefore + harness.deliveries.counters.sent).toBeGreaterThanOrEqual(6);
    expect(harness.deliveries.counters.sent).toBeGreaterThanOrEqual(2);
    expect(fake.callsTo('sendDocument').filter((call) => String(call.params.chat_id) === creator.chatId)).toHaveLength(1);
  });

  test('a messages job sends each code exactly once', async () => {
    const jobId = await start(messagesJob(12));
    const job = await waitForJob(harness, creator.token, jobId);
    expect(job).toMatchObject({ status: 'completed', delivered_count: 12 });
    const sent = codesInMessages(fake.messagesTo(creator.chatId));
    const listed = (await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId })).codes.map((c) => c.code);
    expect(sent).toHaveLength(12);
    expect([...sent].sort()).toEqual([...listed].sort());
    expect(await codeItemsOf(harness, jobId)).toHaveLength(12);
    expect(await generatedEventsOf(harness, job.batch_id)).toHaveLength(1);
  });
});

describe('a crash between two steps, then the queue redelivers the message', () => {
  test('after marking the job processing', async () => {
    const crashed = crash(jobs(), 'markProcessing', 'after');
    const jobId = await start(fileJob(60));
    const stalled = await settledView(jobId);
    expect(crashed.crashes()).toBe(1);
    expect(stalled).toMatchObject({ status: 'processing', generated_count: 0, delivered_count: 0 });

    await redeliver({ kind: 'generate-chunk', job_id: jobId, chunk: 0 });
    await expectFileJobDoneOnce(jobId, 60);
  });

  test('after storing the codes, before counting them', async () => {
    const crashed = crash(codes(), 'storeCodes', 'after');
    const jobId = await start(fileJob(60));
    const stalled = await settledView(jobId);
    expect(crashed.crashes()).toBe(1);
    expect(stalled).toMatchObject({ status: 'processing', generated_count: 60, generated_at: null });

    await redeliver({ kind: 'generate-chunk', job_id: jobId, chunk: 0 });
    await expectFileJobDoneOnce(jobId, 60);
  });

  test('after storing each chunk of a two-chunk job, then both redelivered at once', async () => {
    const crashed = crash(codes(), 'storeCodes', 'after', [1, 2]);
    const jobId = await start(fileJob(CHUNK_SIZE + 10));
    const stalled = await settledView(jobId);
    expect(crashed.crashes()).toBe(2);
    expect(stalled).toMatchObject({ status: 'processing', generated_count: CHUNK_SIZE + 10, generated_at: null });

    await Promise.all([0, 1].map((chunk) => redeliver({ kind: 'generate-chunk', job_id: jobId, chunk })));
    await expectFileJobDoneOnce(jobId, CHUNK_SIZE + 10);
  });

  test('after marking the batch generated, before queueing its delivery', async () => {
    const crashed = crash(jobs(), 'markGenerated', 'after');
    const jobId = await start(fileJob(60));
    const stalled = await settledView(jobId);
    expect(crashed.crashes()).toBe(1);
    expect(stalled).toMatchObject({ status: 'processing', generated_count: 60, delivered_count: 0 });
    expect(stalled.generated_at).not.toBeNull();
    expect(fake.documentsTo(creator.chatId)).toHaveLength(0);

    await redeliver({ kind: 'generate-chunk', job_id: jobId, chunk: 0 });
    await expectFileJobDoneOnce(jobId, 60);
  });

  test('after sending the document, before completing the job: at most the document in flight is sent again', async () => {
    const crashed = crash(jobs(), 'completeJob', 'before');
    const jobId = await start(fileJob(60));
    const stalled = await settledView(jobId);
    expect(crashed.crashes()).toBe(1);
    expect(stalled.status).toBe('processing');
    expect(fake.documentsTo(creator.chatId)).toHaveLength(1);

    await redeliver({ kind: 'deliver', job_id: jobId });
    await expectFileJobDoneOnce(jobId, 60, 2);
  });

  test('after sending a message, before recording it: at most that message is sent again', async () => {
    const crashed = crash(jobs(), 'recordDelivered', 'before', [4]);
    const jobId = await start(messagesJob(10));
    const stalled = await settledView(jobId);
    expect(crashed.crashes()).toBe(1);
    expect(stalled).toMatchObject({ status: 'processing', delivered_count: 3 });
    expect(fake.messagesTo(creator.chatId)).toHaveLength(4);

    await redeliver({ kind: 'deliver', job_id: jobId });
    const job = await waitForJob(harness, creator.token, jobId);
    expect(job).toMatchObject({ status: 'completed', delivered_count: 10 });
    const sent = codesInMessages(fake.messagesTo(creator.chatId));
    const listed = (await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId })).codes.map((c) => c.code);
    expect(sent.length).toBeLessThanOrEqual(11);
    expect(new Set(sent)).toEqual(new Set(listed));
    expect(listed).toHaveLength(10);
  });
});

describe('the sweeper pushes on what nothing else will', () => {
  test('a crash after marking the job processing is recovered by the sweeper alone', async () => {
    crash(jobs(), 'markProcessing', 'after');
    const jobId = await start(fileJob(40));
    expect((await settledView(jobId)).status).toBe('processing');

    expect((await harness.sweep()).requeued).not.toContain(jobId); // not stale yet
    expect((await sweepLater()).requeued).toEqual([jobId]);
    await expectFileJobDoneOnce(jobId, 40);
  });

  test('a lost delivery enqueue (after the generated mark) is recovered by the sweeper', async () => {
    crash(jobs(), 'markGenerated', 'after');
    const jobId = await start(fileJob(40));
    expect((await settledView(jobId)).generated_at).not.toBeNull();

    expect((await sweepLater()).requeued).toEqual([jobId]);
    await expectFileJobDoneOnce(jobId, 40);
  });

  test('a lost enqueue at the API still answers 202; the job waits queued until the sweeper queues it', async () => {
    harness.apiQueueFault = new Error('SQS is unavailable');
    const sentBefore = harness.deps.queue.counters.sent;
    const answer = await bulkGenerate(harness, creator.token, fileJob(50));
    expect(answer.status).toBe(202);
    expect(answer.body.data.status).toBe('queued');
    const jobId: string = answer.body.data.job_id;
    expect(harness.deps.queue.counters.sent).toBe(sentBefore);
    expect(await settledView(jobId)).toMatchObject({ status: 'queued', generated_count: 0 });

    harness.apiQueueFault = undefined;
    expect((await harness.sweep()).requeued).not.toContain(jobId);
    expect((await sweepLater()).requeued).toEqual([jobId]);
    await expectFileJobDoneOnce(jobId, 50);
  });

  // MAX_REQUEUES counts pushes in a row without progress: progress in between starts again.
  test('a job that moves after every push is never failed as stalled, however often it stalls', async () => {
    // Every other progress write crashes, so the job stalls six times and moves after each push.
    crash(jobs(), 'recordDelivered', 'before', [2, 4, 6, 8, 10, 12]);
    const jobId = await start(messagesJob(10));
    for (let stall = 1; stall <= 6; stall++) {
      const before = await settledView(jobId);
      expect(before.status).toBe('processing');
      const swept = await sweepLater();
      expect(swept.failed).toEqual([]);
      expect(swept.requeued).toEqual([jobId]);
    }
    expect(await waitForJob(harness, creator.token, jobId)).toMatchObject({ status: 'completed', delivered_count: 10 });
  });
});
