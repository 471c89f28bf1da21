import type { DeliverMessage } from '../../functions/contracts/queue-messages';
import { SAFETY_MARGIN_MS, deliverJob } from '../../functions/use-cases/generation/deliver-job';
import { STALE_AFTER_MS } from '../../functions/use-cases/job-sweeper';
import { MAX_DELIVERY_HOPS } from '../../functions/contracts/pipeline-settings';
import { startFakeTelegram, telegramErrors, type FakeTelegram } from '../../local/fakes/fake-telegram';
import {
  bulkGenerate,
  codesInMessages,
  createCreator,
  generatedEventsOf,
  listAllCodes,
  parseCsv,
  quietBatchFailures,
  startPipelineHarness,
  waitForJob,
  type PipelineHarness,
} from '../support/pipeline';

let fake: FakeTelegram;
let harness: PipelineHarness;
let creator: Awaited<ReturnType<typeof createCreator>>;

beforeAll(async () => {
  quietBatchFailures();
  fake = await startFakeTelegram();
  harness = await startPipelineHarness(fake);
});
beforeEach(async () => {
  creator = await createCreator(harness);
});
afterEach(() => fake.reset());
afterAll(async () => {
  await harness?.stop();
  await fake?.close();
});

const CODE_ANYWHERE = /[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}/g;

const start = async (body: Record<string, unknown>): Promise<string> => {
  const answer = await bulkGenerate(harness, creator.token, { plan_id: creator.planId, expiry_preset: 'no_expiry', ...body });
  expect(answer.status).toBe(202);
  return answer.body.data.job_id;
};

describe('a messages job', () => {
  test('delivers 30 messages, one code each, all distinct and the listed ones, though Telegram answers 429 now and then', async () => {
    fake.throttleEvery(12, 1);
    const jobId = await start({ quantity: 30, export_type: 'messages', consent: true });
    const job = await waitForJob(harness, creator.token, jobId);
    expect(job).toMatchObject({ status: 'completed', generated_count: 30, delivered_count: 30, failure: null });

    const throttled = fake.callsTo('sendMessage').filter((call) => call.status === 429 && String(call.params.chat_id) === creator.chatId);
    expect(throttled.length).toBeGreaterThanOrEqual(2);
    const texts = fake.messagesTo(creator.chatId);
    expect(texts).toHaveLength(30);
    texts.forEach((text, i) => {
      expect(text.match(CODE_ANYWHERE)).toHaveLength(1);
      expect(text).toContain(`Access code ${i + 1}/30`);
    });
    const sent = codesInMessages(texts);
    expect(new Set(sent).size).toBe(30);
    const listed = await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId });
    expect(listed.codes.map((code) => code.code).sort()).toEqual([...sent].sort());
    expect(fake.documentsTo(creator.chatId)).toHaveLength(0);
    expect(await generatedEventsOf(harness, job.batch_id)).toHaveLength(1);
  });

  test('to a chat that blocked the bot ends failed with telegram_bot_blocked; its codes stay listable', async () => {
    fake.blockChat(creator.chatId);
    const jobId = await start({ quantity: 8, export_type: 'messages', consent: true });
    const job = await waitForJob(harness, creator.token, jobId);
    expect(job.status).toBe('failed');
    expect(job.failure).toEqual({ code: 'telegram_bot_blocked', message: expect.any(String) });
    expect(job.completed_at).not.toBeNull();
    expect(fake.messagesTo(creator.chatId)).toHaveLength(0);
    expect(fake.callsTo('sendMessage').filter((call) => call.status === 403)).toHaveLength(1);

    const listed = await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId });
    expect(listed.codes).toHaveLength(8);
    expect(listed.codes.every((code) => code.status === 'active')).toBe(true);
    expect(await generatedEventsOf(harness, job.batch_id)).toHaveLength(1);

    // A failed job is over: the sweeper leaves it alone.
    harness.clock.advance(STALE_AFTER_MS + 1000);
    const swept = await harness.sweep();
    expect([...swept.requeued, ...swept.failed]).not.toContain(jobId);
  });
});

describe('a messages job across invocations and Telegram trouble', () => {
  test('handed over when the invocation runs short, resumes from its cursor in the next one: nothing lost, nothing twice', async () => {
    // Keep the job's first delivery message for ourselves, to run it with a short invocation.
    const queue = harness.deliveries;
    const held: DeliverMessage[] = [];
    queue.send = async (messages) => void held.push(...messages.map((message) => message.body));
    let jobId: string;
    try {
      jobId = await start({ quantity: 10, export_type: 'messages', consent: true });
      await harness.idle();
    } finally {
      delete (queue as unknown as Record<string, unknown>).send;
    }
    expect(held).toEqual([{ kind: 'deliver', job_id: jobId, hops: 0 }]);

    // An invocation with time for four messages; its hand-over goes to the real queue.
    let sends = 0;
    const telegram = harness.pipeline.telegram;
    const counting = { sendDocument: telegram.sendDocument.bind(telegram), sendMessage: (chat: string, text: string) => (sends++, telegram.sendMessage(chat, text)) };
    const invocation = { remainingMs: () => (sends < 4 ? 60_000 : SAFETY_MARGIN_MS - 1) };
    const deps = { ...harness.deliveryDeps, telegram: counting };
    await deliverJob(deps, held[0]!, invocation);
    expect(fake.messagesTo(creator.chatId)).toHaveLength(4);
    expect((await harness.call('GET', `/v1/jobs/${jobId}`, { token: creator.token })).body.data).toMatchObject({ status: 'processing', delivered_count: 4 });

    const job = await waitForJob(harness, creator.token, jobId);
    expect(job).toMatchObject({ status: 'completed', delivered_count: 10 });
    const texts = fake.messagesTo(creator.chatId);
    expect(texts.map((text) => /Access code (\d+)\/10/.exec(text)?.[1])).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    const listed = await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId });
    expect(codesInMessages(texts).sort()).toEqual(listed.codes.map((code) => code.code).sort());
  });

  test('a delivery handed over past MAX_DELIVERY_HOPS fails its job with too_many_handovers; what was sent stays sent, nothing more goes out', async () => {
    const queue = harness.deliveries;
    const held: DeliverMessage[] = [];
    queue.send = async (messages) => void held.push(...messages.map((message) => message.body));
    let jobId: string;
    try {
      jobId = await start({ quantity: 10, export_type: 'messages', consent: true });
      await harness.idle();
    } finally {
      delete (queue as unknown as Record<string, unknown>).send;
    }
    // A job that has already been handed over MAX_DELIVERY_HOPS times, in an invocation with
    // time for four messages: its hand-over (hop MAX + 1) goes to the real queue.
    let sends = 0;
    const telegram = harness.pipeline.telegram;
    const counting = { sendDocument: telegram.sendDocument.bind(telegram), sendMessage: (chat: string, text: string) => (sends++, telegram.sendMessage(chat, text)) };
    const invocation = { remainingMs: () => (sends < 4 ? 60_000 : SAFETY_MARGIN_MS - 1) };
    await deliverJob({ ...harness.deliveryDeps, telegram: counting }, { ...held[0]!, hops: MAX_DELIVERY_HOPS }, invocation);

    const job = await waitForJob(harness, creator.token, jobId);
    expect(job).toMatchObject({ status: 'failed', delivered_count: 4, failure: { code: 'too_many_handovers', message: expect.any(String) } });
    expect(fake.messagesTo(creator.chatId)).toHaveLength(4);
    expect((await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId })).codes).toHaveLength(10);
    // The chat is free again for the creator's next job.
    const next = await start({ quantity: 2, export_type: 'messages', consent: true });
    expect(await waitForJob(harness, creator.token, next)).toMatchObject({ status: 'completed', delivered_count: 2 });
  });

  test('a 429 longer than it waits in place becomes a delayed queue message; every code still arrives once', async () => {
    fake.failNext('sendMessage', 1, telegramErrors.tooManyRequests(6));
    const jobId = await start({ quantity: 3, export_type: 'messages', consent: true });
    // The back-off holds the delivery lease for retry_after on the pipeline's (fake) clock, while
    // the queue delays the message in real time: move the fake clock on as time passes.
    while (!fake.callsTo('sendMessage').some((call) => call.status === 429)) await new Promise((resolve) => setTimeout(resolve, 20));
    harness.clock.advance(6000);
    const job = await waitForJob(harness, creator.token, jobId, 30_000);
    expect(job).toMatchObject({ status: 'completed', delivered_count: 3 });
    expect(fake.callsTo('sendMessage').map((call) => call.status)).toEqual([429, 200, 200, 200]);
    expect(new Set(codesInMessages(fake.messagesTo(creator.chatId))).size).toBe(3);
  });

  test('a transient Telegram failure (500) leaves the job to the sweeper, which finishes it without sending anything twice', async () => {
    fake.failNext('sendMessage', 1, telegramErrors.internal());
    const jobId = await start({ quantity: 4, export_type: 'messages', consent: true });
    await harness.idle();
    expect((await harness.call('GET', `/v1/jobs/${jobId}`, { token: creator.token })).body.data).toMatchObject({ status: 'processing', delivered_count: 0 });

    harness.clock.advance(STALE_AFTER_MS + 1000);
    expect((await harness.sweep()).requeued).toEqual([jobId]);
    expect(await waitForJob(harness, creator.token, jobId)).toMatchObject({ status: 'completed', delivered_count: 4 });
    const sent = codesInMessages(fake.messagesTo(creator.chatId));
    expect(sent).toHaveLength(4);
    expect(new Set(sent).size).toBe(4);
  });
});

describe('the order of events and deliveries', () => {
  test('access_code.generated is committed before the first code leaves for Telegram', async () => {
    const telegram = harness.pipeline.telegram as unknown as Record<string, (...args: unknown[]) => Promise<void>>;
    const send = telegram.sendMessage!;
    // The creator's project is new, so its only generated event is this job's.
    const committedAtFirstSend: boolean[] = [];
    telegram.sendMessage = async (...args: unknown[]) => {
      if (args[0] === creator.chatId && committedAtFirstSend.length === 0) {
        const outbox = (await harness.table.scanAll()).filter((item) => item.type === 'outbox_event');
        committedAtFirstSend.push(
          outbox.some((item) => {
            const event = item.event as { type: string; project_id: string };
            return event.type === 'access_code.generated' && event.project_id === creator.projectId;
          }),
        );
      }
      return send.apply(harness.pipeline.telegram, args);
    };
    try {
      const jobId = await start({ quantity: 3, export_type: 'messages', consent: true });
      expect((await waitForJob(harness, creator.token, jobId)).status).toBe('completed');
    } finally {
      delete telegram.sendMessage;
    }
    expect(committedAtFirstSend).toEqual([true]);
    expect(fake.messagesTo(creator.chatId)).toHaveLength(3);
  });
});

describe('a file job', () => {
  test('to a chat that blocked the bot ends failed with telegram_bot_blocked', async () => {
    fake.blockChat(creator.chatId);
    const jobId = await start({ quantity: 5, export_type: 'file' });
    const job = await waitForJob(harness, creator.token, jobId);
    expect(job).toMatchObject({ status: 'failed', failure: { code: 'telegram_bot_blocked' }, generated_count: 5 });
    expect((await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId })).codes).toHaveLength(5);
  });

  // A 429 on sendDocument is waited out for retry_after, like one on sendMessage, rather than
  // left to the queue's visibility timeout (12 min) or the sweeper.
  test('waits out a 429 on sendDocument for retry_after, then delivers', async () => {
    fake.failNext('sendDocument', 1, telegramErrors.tooManyRequests(1));
    const jobId = await start({ quantity: 5, export_type: 'file' });
    // 60 s is a liveness bound, far below the 180 s visibility timeout a redelivery would wait.
    const job = await waitForJob(harness, creator.token, jobId, 60_000);
    expect(job.status).toBe('completed');
    const documents = fake.documentsTo(creator.chatId);
    expect(documents).toHaveLength(1);
    expect(parseCsv(documents[0]!.content).rows).toHaveLength(5);
    const [refused, accepted, ...more] = fake.callsTo('sendDocument');
    expect(more).toHaveLength(0);
    expect(accepted!.at - refused!.at).toBeGreaterThanOrEqual(1000);
  });
});
