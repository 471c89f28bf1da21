import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { EventEnvelope } from '../../functions/contracts/events';
import { OUTBOX_ITEM_TYPE } from '../../functions/contracts/outbox';
import {
  DELIVERY_VISIBILITY_TIMEOUT_SECONDS,
  GENERATION_VISIBILITY_TIMEOUT_SECONDS,
  WEBHOOK_DELIVERY_VISIBILITY_TIMEOUT_SECONDS,
} from '../../functions/contracts/pipeline-settings';
import { generateChunkMessage, deliverMessage, type BillingMessage, type DeliverMessage, type PipelineMessage, type WebhookDeliveryMessage } from '../../functions/contracts/queue-messages';
import { DynamoCodeStore } from '../../functions/adapters/dynamodb/code-store';
import { DynamoExpiryStore } from '../../functions/adapters/dynamodb/expiry-store';
import { StripeMeterBiller } from '../../functions/adapters/stripe/stripe-meter-biller';
import { makeTelegramSender } from '../../functions/adapters/telegram/factory';
import { maskCode } from '../../functions/domain/access-codes';
import { BILLING_POLICY } from '../../functions/domain/billing';
import { billedRecordItem } from '../support/billing-records';
import { CHUNK_SIZE, type Job } from '../../functions/domain/jobs';
import type { TableStores, TelegramSender } from '../../functions/domain/ports';
import { CLAIM_LEASE_SECONDS, SWEEP_GRACE_SECONDS, deliveryIdFor, generateWebhookSecret } from '../../functions/domain/webhooks';
import { sweepWebhookDeliveries } from '../../functions/use-cases/deliver-webhook';
import { consumerHandler as webhookDispatchHandler, type makeHandler as makeWebhookDispatch } from '../../functions/handlers/events/webhook-dispatch';
import { consumerHandler as billingHandler, type makeHandler as makeBilling } from '../../functions/handlers/queue/billing';
import { consumerHandler as delivererHandler, type makeHandler as makeDeliverer } from '../../functions/handlers/queue/deliverer';
import { consumerHandler as generatorHandler, type makeHandler as makeGenerator } from '../../functions/handlers/queue/generator';
import { consumerHandler as webhookDeliveryHandler, type makeHandler as makeWebhookDelivery } from '../../functions/handlers/queue/webhook-delivery';
import { consumerHandler as expirySweeperHandler } from '../../functions/handlers/schedule/expiry-sweeper';
import { consumerHandler as jobSweeperHandler, type makeHandler as makeJobSweeper } from '../../functions/handlers/schedule/job-sweeper';
import { consumerHandler as billingForwarderHandler, type makeHandler as makeBillingForwarder } from '../../functions/handlers/stream/billing-forwarder';
import { consumerHandler as outboxRelayHandler, type makeHandler as makeOutboxRelay } from '../../functions/handlers/stream/outbox-relay';
import { cutBatchExpiry } from '../../functions/use-cases/batch-expiry';
import { STALE_AFTER_MS } from '../../functions/use-cases/job-sweeper';
import { generatedEvent } from '../../functions/use-cases/generation/generate-chunk';
import { consumerPorts } from '../support/consumer-ports';
import {
  tableStores,
  webhookPorts,
  type WebhookPorts,
} from '../../functions/wiring';
import { EVENTS_FILE, InProcessEventBus } from '../../local/in-process-bus';
import { FakeClock } from '../support/clock';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { startFakeStripe, type FakeStripe } from '../../local/fakes/fake-stripe';
import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';
import { queuedJob } from '../support/jobs';
import { codesInMessages, parseCsv, type CrashInjection } from '../support/pipeline';
import { redemptionTeam, storedCodes } from '../support/redemption';
import { anEndpoint } from '../support/webhook-doubles';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/fakes/webhook-receiver';
import { TEST_RETENTION_DAYS } from '../support/webhook-store-harness';
import {
  RecordingQueue,
  concurrently,
  crashAfter,
  invoke,
  numbered,
  RecordingBillingQueue,
  RecordingScheduler,
  runSqs,
  streamRecord,
  streamUntilDone,
  tally,
  type Queued,
  type Write,
} from './harness';

// One fault-injection suite over every queue and stream consumer. Each consumer is its real
// handler over DynamoDB Local, invoked as Lambda invokes it; the test plays the queue or the
// stream: it delivers a message twice (one after the other, and at once), out of order, and
// crashed — the handler dies right after its k-th write, for every k — then redelivered as SQS
// or the event source mapping would. Every case checks the END STATE: no code, event, webhook
// delivery or Stripe meter event lost or doubled.

let table: TestTable;
let stores: TableStores;
const clock = new FakeClock(new Date());
const undo: CrashInjection[] = [];
const tables: TestTable[] = [];

/**
 * A table of its own for each consumer (call in its describe's first beforeAll): the end-state
 * checks scan it, and a scan grows with what the other consumers' cases left behind.
 */
const freshTable = async () => {
  // DynamoDB's conflicts and throttles on top of DynamoDB Local (which raises neither).
  table = await createTestTable({ awsBehaviour: {} });
  tables.push(table);
  stores = tableStores(table.db, table.tableName);
  team = await redemptionTeam(table);
};

afterEach(() => {
  while (undo.length) undo.pop()!.restore();
});
afterAll(async () => {
  for (const each of tables) await each.drop();
});

/** Injects a crash right after `write`; undone after the test. Returns the injection, to check it fired. */
const crash = (write: Write): CrashInjection => {
  const injection = crashAfter(write);
  undo.push(injection);
  return injection;
};

/** A write of one of `stores`' ports (looked up when the case runs, so crashes patch the live instance). */
const storeWrite = (label: string, store: keyof TableStores, method: string, nth = 1): Write => ({ label, target: () => stores[store], method, nth });

let chats = 0;
/** A chat of its own for each job, so deliveries of different cases never share one. */
const newChat = () => String(700_000 + process.pid * 1000 + ++chats);

/** A team's project and plan, the owner of the jobs below. */
let team: Awaited<ReturnType<typeof redemptionTeam>>;

const createJob = async (quantity: number, exportType: 'file' | 'messages' = 'file', overrides: Partial<Job> = {}): Promise<Job> => {
  const job = queuedJob(
    { quantity, teamId: team.teamId, projectId: team.projectId, planId: team.planId, telegramChatId: newChat(), createdAt: clock.now().toISOString(), updatedAt: clock.now().toISOString(), ...overrides },
    exportType,
  );
  await stores.jobs.createJob(job);
  return job;
};

/** The table's outbox events, whatever wrote them. */
const outboxEvents = async (): Promise<EventEnvelope[]> =>
  (await table.scanAll())
    .filter((item) => item.type === OUTBOX_ITEM_TYPE)
    .map((item) => (typeof item.event === 'string' ? JSON.parse(item.event) : item.event) as EventEnvelope);

const codeItemsOf = async (jobId: string) => (await table.scanAll()).filter((item) => item.type === 'access_code' && item.job_id === jobId);

/** Every code of a job stored once: one item per slot, no code twice, and exactly one access_code.generated for its batch. */
const expectGeneratedOnce = async (job: Job) => {
  const items = await codeItemsOf(job.id);
  expect(items).toHaveLength(job.quantity);
  expect(new Set(items.map((item) => item.slot))).toEqual(new Set(Array.from({ length: job.quantity }, (_, slot) => slot)));
  expect(new Set(items.map((item) => item.code)).size).toBe(job.quantity);
  const generated = (await outboxEvents()).filter((event) => event.type === 'access_code.generated' && (event.data as { batch_id: string }).batch_id === job.batchId);
  expect(generated).toHaveLength(1);
  expect((await stores.jobs.getJob(job.id))?.generatedAt).not.toBeNull();
};

// ---- the generator ---------------------------------------------------------------------------

describe('the generator (generation chunks)', () => {
  const deliveries = new RecordingQueue<DeliverMessage>();
  let generator: ReturnType<typeof makeGenerator>;
  beforeAll(async () => {
    await freshTable();
    generator = generatorHandler(consumerPorts('Generator', { stores, queues: { delivery: deliveries }, clock }));
  });

  /** Delivers chunk messages until none fails (SQS redelivers each failed one after its visibility timeout). */
  const generateUntilDone = async (bodies: PipelineMessage[]) => {
    let pending = bodies;
    for (let round = 0; pending.length > 0; round++) {
      if (round > 5) throw new Error('chunks keep failing');
      pending = await runSqs(generator, pending, 'Generator');
      clock.advance(GENERATION_VISIBILITY_TIMEOUT_SECONDS * 1000);
    }
  };
  const deliveriesOf = (job: Job) => deliveries.history.filter((message) => message.body.job_id === job.id);

  // The generator's writes for a one-chunk job, in order.
  const writes: Write[] = [
    storeWrite('mark the job processing', 'jobs', 'markProcessing'),
    storeWrite('store the chunk of codes', 'codes', 'storeCodes'),
    storeWrite('mark the batch generated with its event', 'jobs', 'markGenerated'),
    { label: 'queue the delivery', target: () => deliveries, method: 'send', nth: 1 },
  ];

  test.each(numbered(writes))('a crash after write %s, then the chunk redelivered: every code stored once, one generated event, the delivery queued', async (_name, write) => {
    const job = await createJob(30);
    const crashed = crash(write);

    await generateUntilDone([generateChunkMessage(job.id, 0)]);

    expect(crashed.crashes()).toBe(1);
    await expectGeneratedOnce(job);
    expect(deliveriesOf(job).length).toBeGreaterThanOrEqual(1);
  });

  test('a crash inside the store of a chunk, after some of its codes, then the chunk redelivered: no slot filled twice', async () => {
    // storeCodes writes a chunk one conditional put a code: die after the 40th of 120.
    const job = await createJob(120);
    const codes = stores.codes as DynamoCodeStore;
    const db = (codes as unknown as { db: DynamoDBDocumentClient }).db;
    const send = db.send.bind(db);
    let puts = 0;
    let tried = 0;
    const patched = db as unknown as { send: (command: unknown) => Promise<unknown> };
    patched.send = async (command: unknown) => {
      const isCode = command instanceof PutCommand && (command.input.Item as { type?: string }).type === 'access_code';
      if (isCode) tried++;
      const result = await send(command as never);
      if (isCode && ++puts === 40) throw new Error('injected crash after the 40th code');
      return result;
    };
    try {
      await generateUntilDone([generateChunkMessage(job.id, 0)]);
    } finally {
      delete (patched as Partial<typeof patched>).send;
    }
    // Every code written once; the redelivery tried the slots stored before the crash again.
    expect(puts).toBe(120);
    expect(tried).toBeGreaterThan(120);
    await expectGeneratedOnce(job);
  });

  test('every chunk delivered twice, one after the other and reordered (last chunk first): each code once, one generated event', async () => {
    const job = await createJob(CHUNK_SIZE + 5);
    const messages = [generateChunkMessage(job.id, 1), generateChunkMessage(job.id, 0)];

    await generateUntilDone(messages);
    await generateUntilDone(messages);

    await expectGeneratedOnce(job);
  });

  test('every chunk delivered twice at once, in one batch and in two invocations side by side: each code once, one generated event', async () => {
    const job = await createJob(CHUNK_SIZE + 5);
    const messages = [generateChunkMessage(job.id, 0), generateChunkMessage(job.id, 1)];

    await Promise.all([generateUntilDone([...messages, ...messages]), generateUntilDone([...messages].reverse())]);

    await expectGeneratedOnce(job);
    expect(deliveriesOf(job).length).toBeGreaterThanOrEqual(1);
  });
});

// ---- the Telegram deliverer --------------------------------------------------------------------

let telegramFake: FakeTelegram;
let telegram: TelegramSender;
beforeAll(async () => {
  telegramFake = await startFakeTelegram();
  telegram = makeTelegramSender({ botToken: '123456:FAULTS', apiRoot: telegramFake.apiRoot });
});
afterAll(async () => telegramFake?.close());

/** The codes of a CSV document, sorted, as stored (without the display grouping). */
const csvCodes = (content: string) => parseCsv(content).rows.map((row) => row.code!.replaceAll('-', '')).sort();

/** A job whose codes are stored and whose batch is marked generated: what the deliverer starts from. */
const generatedJob = async (quantity: number, exportType: 'file' | 'messages', overrides: Partial<Job> = {}): Promise<{ job: Job; codes: string[] }> => {
  const job = await createJob(quantity, exportType, overrides);
  const now = clock.now();
  await stores.jobs.markProcessing(job.id, now);
  const { randomCode } = await import('../../functions/domain/access-codes');
  await stores.codes.storeCodes({ ...job, status: 'processing' }, Array.from({ length: quantity }, (_, slot) => slot), randomCode, now);
  if (!(await stores.jobs.markGenerated(job.id, generatedEvent(job, now), now))) throw new Error('could not mark the job generated');
  return { job, codes: (await stores.codes.jobCodes(job.id)).map((entry) => entry.code) };
};

describe('the Telegram deliverer', () => {
  const deliveries = new RecordingQueue<DeliverMessage>();
  let deliverer: ReturnType<typeof makeDeliverer>;
  beforeAll(async () => {
    await freshTable();
    deliverer = delivererHandler(consumerPorts('Deliverer', { stores, queues: { delivery: deliveries }, telegram, clock, messageIntervalMs: 0 }));
  });

  /**
   * Plays the delivery queue for these jobs: delivers what is queued for them (and what the
   * deliverer queues: hand-overs, a waiting job's turn), redelivering failed messages after
   * the visibility timeout (by then the leases of a dead invocation have lapsed).
   */
  const deliverUntilDone = async (jobIds: readonly string[], first: DeliverMessage[]) => {
    deliveries.sent.push(...first.map((body) => ({ body })));
    for (let round = 0; ; round++) {
      const batch = deliveries.take((body) => jobIds.includes(body.job_id));
      if (batch.length === 0) return;
      if (round > 20) throw new Error('deliveries keep coming');
      clock.advance(Math.max(0, ...batch.map((message) => message.delaySeconds ?? 0)) * 1000);
      const failed = await runSqs(deliverer, batch.map((message) => message.body), 'Deliverer');
      if (failed.length > 0) {
        clock.advance(DELIVERY_VISIBILITY_TIMEOUT_SECONDS * 1000);
        deliveries.sent.push(...failed.map((body) => ({ body })));
      }
    }
  };

  /** The codes a chat received in messages, in order, as stored (without the display grouping). */
  const sentCodes = (chatId: string) => codesInMessages(telegramFake.messagesTo(chatId)).map((code) => code.replaceAll('-', ''));

  /** Completed, every code sent to the chat, none lost; at most `extra` sends beyond one per code. */
  const expectDeliveredOnce = async (job: Job, codes: readonly string[], extra = 0) => {
    const view = await stores.jobs.getJob(job.id);
    expect(view).toMatchObject({ status: 'completed', deliveredCount: job.quantity });
    const sent = sentCodes(job.telegramChatId);
    expect(new Set(sent)).toEqual(new Set(codes));
    expect(sent.length).toBeGreaterThanOrEqual(job.quantity);
    expect(sent.length).toBeLessThanOrEqual(job.quantity + extra);
    expect(await stores.chats.holder(job.telegramChatId, clock.now())).toBeUndefined();
  };

  // The deliverer's writes for a three-code messages job, in order (sends to Telegram included).
  const writes: Write[] = [
    storeWrite('take the job lease', 'jobs', 'acquireDeliveryLease'),
    storeWrite('take the chat lease', 'chats', 'acquire'),
    { label: 'send code 1', target: () => telegram, method: 'sendMessage', nth: 1 },
    storeWrite('record code 1 delivered', 'jobs', 'recordDelivered', 1),
    { label: 'send code 2', target: () => telegram, method: 'sendMessage', nth: 2 },
    storeWrite('record code 2 delivered', 'jobs', 'recordDelivered', 2),
    { label: 'send code 3', target: () => telegram, method: 'sendMessage', nth: 3 },
    storeWrite('record code 3 delivered', 'jobs', 'recordDelivered', 3),
    storeWrite('complete the job', 'jobs', 'completeJob'),
    storeWrite('release the chat', 'chats', 'release'),
  ];

  test.each(numbered(writes))('a crash after write %s, then the message redelivered: every code sent, none twice unless it was in flight', async (_name, write) => {
    const { job, codes } = await generatedJob(3, 'messages');
    const crashed = crash(write);

    await deliverUntilDone([job.id], [deliverMessage(job.id)]);

    expect(crashed.crashes()).toBe(1);
    // Only a crash between a send and its record may send that one code again.
    await expectDeliveredOnce(job, codes, write.method === 'sendMessage' ? 1 : 0);
  });

  test.each([
    ['a crash after sending the document', { label: 'send the document', target: () => telegram, method: 'sendDocument', nth: 1 }, 2],
    ['a crash after completing the job', storeWrite('complete the job', 'jobs', 'completeJob'), 1],
  ] as Array<[string, Write, number]>)('a file job, %s, then redelivered: one document with every code, at most the one in flight again', async (_name, write, maxDocuments) => {
    const { job, codes } = await generatedJob(20, 'file');
    crash(write);

    await deliverUntilDone([job.id], [deliverMessage(job.id)]);

    expect((await stores.jobs.getJob(job.id))?.status).toBe('completed');
    const documents = telegramFake.documentsTo(job.telegramChatId);
    expect(documents.length).toBeGreaterThanOrEqual(1);
    expect(documents.length).toBeLessThanOrEqual(maxDocuments);
    for (const document of documents) expect(csvCodes(document.content)).toEqual([...codes].sort());
  });

  test('the same message delivered twice, one after the other: each code sent exactly once', async () => {
    const { job, codes } = await generatedJob(4, 'messages');

    await deliverUntilDone([job.id], [deliverMessage(job.id)]);
    await deliverUntilDone([job.id], [deliverMessage(job.id)]);

    await expectDeliveredOnce(job, codes);
  });

  test('the same message delivered three times at once (one batch and two invocations): each code sent exactly once', async () => {
    const { job, codes } = await generatedJob(4, 'messages');

    await Promise.all([deliverUntilDone([job.id], [deliverMessage(job.id), deliverMessage(job.id)]), deliverUntilDone([job.id], [deliverMessage(job.id)])]);

    await expectDeliveredOnce(job, codes);
  });

  test('two jobs for one chat delivered in reverse order, each twice: the chat passes from one to the other, every code of both sent once', async () => {
    const chat = newChat();
    const first = await generatedJob(3, 'messages', { telegramChatId: chat });
    clock.advance(1000);
    const second = await generatedJob(3, 'messages', { telegramChatId: chat });

    await deliverUntilDone(
      [first.job.id, second.job.id],
      [deliverMessage(second.job.id), deliverMessage(first.job.id), deliverMessage(second.job.id), deliverMessage(first.job.id)],
    );

    for (const { job } of [first, second]) expect((await stores.jobs.getJob(job.id))?.status).toBe('completed');
    const sent = sentCodes(chat);
    expect([...sent].sort()).toEqual([...first.codes, ...second.codes].sort());
  });

  // ---- the job sweeper (it feeds the two consumers above) ---------------------------------------

  describe('the job sweeper', () => {
    const generation = new RecordingQueue<PipelineMessage>();
    let sweeper: ReturnType<typeof makeJobSweeper>;
    let generator: ReturnType<typeof makeGenerator>;
    beforeAll(() => {
      sweeper = jobSweeperHandler(consumerPorts('Sweeper', { stores, queues: { generation, delivery: deliveries }, clock }));
      generator = generatorHandler(consumerPorts('Generator', { stores, queues: { delivery: deliveries }, clock }));
    });

    /** One scheduled run, once the job has been still for longer than STALE_AFTER_MS. */
    const sweepLater = () => {
      clock.advance(STALE_AFTER_MS + 1000);
      return invoke(sweeper, undefined, 'Sweeper');
    };
    /** Plays both queues for one job until they are empty: the chunks (as queued, or reversed), then its delivery. */
    const runQueuedWork = async (job: Job, reverse = false) => {
      for (let round = 0; round < 10; round++) {
        const chunks = generation.take((body) => body.job_id === job.id).map((message) => message.body);
        if (reverse) chunks.reverse();
        for (const failed of await runSqs(generator, chunks, 'Generator')) generation.sent.push({ body: failed });
        await deliverUntilDone([job.id], []);
        if (!generation.sent.some((message) => message.body.job_id === job.id)) return;
      }
      throw new Error('generation keeps failing');
    };
    /** Completed, every code stored once, one generated event, and one document with every code. */
    const expectDoneOnce = async (job: Job) => {
      expect((await stores.jobs.getJob(job.id))?.status).toBe('completed');
      await expectGeneratedOnce(job);
      const documents = telegramFake.documentsTo(job.telegramChatId);
      expect(documents).toHaveLength(1);
      const stored = (await stores.codes.jobCodes(job.id)).map((entry) => entry.code).sort();
      expect(csvCodes(documents[0]!.content)).toEqual(stored);
    };

    // The sweeper's writes for one stalled job: its work queued again, then the push recorded.
    const writes: Write[] = [
      { label: 'queue the job’s chunks again', target: () => generation, method: 'send', nth: 1 },
      storeWrite('record the push', 'jobs', 'recordRequeue'),
    ];

    test.each(numbered(writes))('a crash after write %s on a job whose enqueue was lost, then the next run: the job ends once, nothing doubled', async (_name, write) => {
      const job = await createJob(40, 'file');
      const crashed = crash(write);

      await sweepLater();
      expect(crashed.crashes()).toBe(1);
      undo.pop()!.restore();
      await sweepLater();
      await runQueuedWork(job);

      await expectDoneOnce(job);
    });

    test('two runs at once, and a third after, each pushing the same stalled job: the job ends once', async () => {
      // One chunk keeps this case quick; the generator's own cases reorder chunks.
      const job = await createJob(40, 'file');

      clock.advance(STALE_AFTER_MS + 1000);
      await concurrently(2, () => invoke(sweeper, undefined, 'Sweeper'));
      await sweepLater();
      expect(generation.sent.filter((message) => message.body.job_id === job.id).length).toBeGreaterThanOrEqual(2);
      await runQueuedWork(job, true);

      await expectDoneOnce(job);
    });

    test('a generated job whose delivery message was lost, pushed by two runs at once: one document', async () => {
      const { job } = await generatedJob(10, 'file');

      clock.advance(STALE_AFTER_MS + 1000);
      await concurrently(2, () => invoke(sweeper, undefined, 'Sweeper'));
      await deliverUntilDone([job.id], []);

      await expectDoneOnce(job);
    });
  });
});

// ---- the outbox relay (stream → bus) -------------------------------------------------------------

describe('the outbox relay (stream → EventBridge)', () => {
  let dataDir: string;
  let bus: InProcessEventBus;
  let relay: ReturnType<typeof makeOutboxRelay>;
  beforeAll(freshTable);
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'memberpass-faults-'));
    bus = new InProcessEventBus({ dataDir });
    relay = outboxRelayHandler(consumerPorts('OutboxRelay', { publisher: bus, clock }));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  /** What reached the bus, in order. */
  const published = async (): Promise<EventEnvelope[]> => {
    await bus.idle();
    let text = '';
    try {
      text = readFileSync(join(dataDir, EVENTS_FILE), 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as EventEnvelope);
  };

  /** Three committed state changes with their outbox items (three batches generated), as stream records, with other writes among them. */
  const committedEvents = async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const { job } = await generatedJob(1, 'file');
      ids.add((await outboxEvents()).find((event) => (event.data as { batch_id?: string }).batch_id === job.batchId)!.id);
    }
    const items = (await table.scanAll()).filter((item) => item.type === OUTBOX_ITEM_TYPE && ids.has((item.event as EventEnvelope).id));
    const noise = (await table.scanAll()).find((item) => item.type === 'job')!;
    const records: DynamoDBRecord[] = [streamRecord('MODIFY', noise, noise), ...items.map((item) => streamRecord('INSERT', item))];
    return { ids, records, stored: new Map(items.map((item) => [(item.event as EventEnvelope).id, item.event as EventEnvelope])) };
  };

  /** Every committed event on the bus, as stored (a republished one carries its own id again); nothing else. */
  const expectEachPublished = async (stored: Map<string, EventEnvelope>, maxCopies: number) => {
    const events = await published();
    expect(new Set(events.map((event) => event.id))).toEqual(new Set(stored.keys()));
    for (const event of events) expect(event).toEqual(stored.get(event.id));
    for (const copies of tally(events.map((event) => event.id)).values()) expect(copies).toBeLessThanOrEqual(maxCopies);
  };

  test.each([1, 2, 3])('a crash after publishing record %i of 3, then the batch retried from the failed record: every event on the bus, none lost', async (k) => {
    const { records, stored } = await committedEvents();
    const crashed = crash({ label: `publish ${k}`, target: () => bus, method: 'publish', nth: k });

    const rounds = await streamUntilDone(relay, records);

    expect(crashed.crashes()).toBe(1);
    expect(rounds).toBe(2);
    await expectEachPublished(stored, 2);
  });

  test('the same batch delivered twice, one after the other and at once: every event on the bus, copies only under its own id', async () => {
    const { records, stored } = await committedEvents();

    await streamUntilDone(relay, records);
    await Promise.all([streamUntilDone(relay, records), streamUntilDone(relay, records)]);

    await expectEachPublished(stored, 3);
  });

  test('the records reordered (last first): every event on the bus once', async () => {
    const { records, stored } = await committedEvents();

    await streamUntilDone(relay, [...records].reverse());

    await expectEachPublished(stored, 1);
  });
});

// ---- billing: forwarder (stream → FIFO) and consumer (→ Stripe meter events) --------------------

const STRIPE_KEY = 'sk_test_faults_1234';

describe('billing: the forwarder and the billing consumer', () => {
  let stripe: FakeStripe;
  let billing: ReturnType<typeof makeBilling>;
  let biller: StripeMeterBiller;
  const queue = new RecordingQueue<BillingMessage>();
  const billingQueue = new RecordingBillingQueue(queue);
  let forwarder: ReturnType<typeof makeBillingForwarder>;
  beforeAll(async () => {
    await freshTable();
    // Stripe judges a meter event's timestamp by its own clock: the suite's (it moves on as queues wait).
    stripe = await startFakeStripe({ apiKey: STRIPE_KEY, now: () => clock.now() });
    biller = new StripeMeterBiller(STRIPE_KEY, { apiBase: stripe.apiBase });
    // Every failed try goes back to the queue (the test plays it), none waits for a sweep.
    const policy = { ...BILLING_POLICY, queueRetryAttempts: 1_000 };
    billing = billingHandler(consumerPorts('Billing', { stores, biller, clock, redelivery: { after: async () => undefined }, settings: { billingPolicy: policy } }));
    forwarder = billingForwarderHandler(consumerPorts('BillingForwarder', { queues: { billing: billingQueue }, clock }));
  });
  afterAll(async () => stripe?.close());

  /** Three billed redemptions committed (their billing records, as the commit writes them), as stream records. */
  const committedRedemptions = async () => {
    const customer = `cus_${Math.random().toString(36).slice(2, 10)}`;
    const items = [0, 1, 2].map(() => billedRecordItem(`prj_${customer}`, customer, clock.now()));
    for (const item of items) await table.db.send(new PutCommand({ TableName: table.tableName, Item: item }));
    return { customer, redemptionIds: items.map((item) => item.redemption_id).sort(), records: items.map((item) => streamRecord('INSERT', item)) };
  };

  /** Plays the billing queue: each message as its own one-record batch (a FIFO group's turn), failed ones again, until none is left. */
  const billUntilDone = async (messages: Array<Queued<BillingMessage>>, inParallel = false) => {
    let pending = messages.map((message) => message.body);
    for (let round = 0; pending.length > 0; round++) {
      if (round > 10) throw new Error('billing keeps failing');
      const run = (body: BillingMessage) => runSqs(billing, [body], 'Billing');
      pending = inParallel ? (await Promise.all(pending.map(run))).flat() : await pending.reduce(async (acc, body) => [...(await acc), ...(await run(body))], Promise.resolve([] as BillingMessage[]));
    }
  };

  /** Stripe holds each redemption of the customer exactly once (identifiers once, values summing to the redemptions), each marked billed. */
  const expectBilledOnce = async ({ customer, redemptionIds }: { customer: string; redemptionIds: readonly string[] }) => {
    const events = stripe.meterEvents.filter((event) => event.payload.stripe_customer_id === customer);
    expect(new Set(events.map((event) => event.identifier)).size).toBe(events.length);
    expect(events.reduce((sum, event) => sum + Number(event.payload.value), 0)).toBe(redemptionIds.length);
    for (const id of redemptionIds) expect(await stores.billing.isBilled(id)).toBe(true);
  };

  test('the forwarder crashes sending the batch, the stream retries it: each redemption billed once', async () => {
    const committed = await committedRedemptions();
    const crashed = crash({ label: 'forward', target: () => billingQueue, method: 'send', nth: 1 });

    await streamUntilDone(forwarder, committed.records);
    expect(crashed.crashes()).toBe(1);
    expect(queue.sent.length).toBeGreaterThanOrEqual(1);
    await billUntilDone(queue.take());

    await expectBilledOnce(committed);
  });

  test('the forwarder gets the batch twice, reordered and at once: each redemption billed once', async () => {
    const committed = await committedRedemptions();
    const { records } = committed;

    await streamUntilDone(forwarder, records);
    await Promise.all([streamUntilDone(forwarder, [...records].reverse()), streamUntilDone(forwarder, records)]);
    // One aggregated message per batch.
    expect(queue.sent).toHaveLength(3);
    await billUntilDone(queue.take(), true);

    await expectBilledOnce(committed);
  });

  // The billing consumer's writes for one message: the claim of the records into a window,
  // Stripe's meter event, then the mark of the window and its records as billed.
  const writes: Write[] = [
    storeWrite('claim the records into a window', 'billing', 'createWindow'),
    { label: 'report the meter event to Stripe', target: () => biller, method: 'reportUsage', nth: 1 },
    storeWrite('mark the window billed', 'billing', 'markWindowBilled'),
  ];

  test.each(numbered(writes))('the billing consumer crashes after write %s, the message is redelivered: billed once', async (_name, write) => {
    const committed = await committedRedemptions();
    await streamUntilDone(forwarder, committed.records);
    const crashed = crash(write);

    await billUntilDone(queue.take());

    expect(crashed.crashes()).toBe(1);
    await expectBilledOnce(committed);
  });

  test('every billing message delivered twice, one after the other, then three times at once and reversed: billed once', async () => {
    const committed = await committedRedemptions();
    await streamUntilDone(forwarder, committed.records);
    const messages = queue.take();

    await billUntilDone([...messages, ...messages]);
    await billUntilDone([...messages, ...messages, ...messages].reverse(), true);

    await expectBilledOnce(committed);
  });

  test('every billing message delivered three times at once before any was billed: billed once', async () => {
    const committed = await committedRedemptions();
    await streamUntilDone(forwarder, committed.records);
    const messages = queue.take();

    await billUntilDone([...messages, ...messages, ...messages], true);

    await expectBilledOnce(committed);
  });
});

// ---- the expiry sweeper ----------------------------------------------------------------------------

describe('the expiry sweeper', () => {
  // 110 due codes are three transactions of at most 50 codes (and their events).
  const DUE = 110;
  beforeAll(freshTable);

  /** A batch whose codes are all due, and an expiry sweeper whose transactions can be made to crash. */
  const dueBatch = async () => {
    const expiresAt = new Date(clock.now().getTime() + 60_000);
    const codes = await storedCodes(table, team, { quantity: DUE, expiresAt });
    clock.advance(120_000);
    const batchId = (await table.scanAll()).find((item) => item.type === 'access_code' && item.code === codes[0])!.batch_id as string;
    return { codes, batchId };
  };

  /** The sweeper's handler on a store whose k-th transaction commits and then "crashes" (0: none). */
  const sweeperCrashingAfter = (k: number) => {
    let transactions = 0;
    const db = new Proxy(table.db, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: unknown) => {
          const result = await target.send(command as never);
          if (command instanceof TransactWriteCommand && ++transactions === k) throw new Error(`injected crash after transaction ${k}`);
          return result;
        };
      },
    });
    const codes = new DynamoCodeStore(db, table.tableName);
    const expiry = new DynamoExpiryStore(db, table.tableName, codes);
    return { handler: expirySweeperHandler(consumerPorts('ExpirySweeper', { stores: { ...stores, expiry }, clock })), transactions: () => transactions };
  };

  /** Every code of the batch expired, each with exactly one access_code.expired event. */
  const expectExpiredOnce = async (batchId: string, codes: readonly string[]) => {
    const items = (await table.scanAll()).filter((item) => item.type === 'access_code' && item.batch_id === batchId);
    expect(items.map((item) => item.status)).toEqual(codes.map(() => 'expired'));
    const events = (await outboxEvents()).filter((event) => event.type === 'access_code.expired' && (event.data as { batch_id: string }).batch_id === batchId);
    // One event per code: the events' masked codes are the codes' masks, as a multiset (two codes
    // may share a mask, the last five symbols, so distinct masks would not prove distinct codes).
    const masked = events.map((event) => (event.data as { access_code: string }).access_code);
    expect(masked.sort()).toEqual(codes.map(maskCode).sort());
  };

  test.each([1, 2, 3])('a crash after transaction %i of 3, then the next scheduled run: every due code expired, one event each', async (k) => {
    const { codes, batchId } = await dueBatch();
    const crashing = sweeperCrashingAfter(k);

    const first = await invoke(crashing.handler, undefined, 'ExpirySweeper');
    expect(first.error).toBeDefined();
    expect(crashing.transactions()).toBeGreaterThanOrEqual(k);
    const next = sweeperCrashingAfter(0);
    expect((await invoke(next.handler, undefined, 'ExpirySweeper')).error).toBeUndefined();

    await expectExpiredOnce(batchId, codes);
  });

  test('two runs at once, then a third: every due code expired, one event each', async () => {
    const { codes, batchId } = await dueBatch();
    const run = () => invoke(sweeperCrashingAfter(0).handler, undefined, 'ExpirySweeper');

    const outcomes = await concurrently(2, run);
    await run();

    expect(outcomes.map((outcome) => outcome.error)).toEqual([undefined, undefined]);
    await expectExpiredOnce(batchId, codes);
  });

  /** A batch cut to now whose change is recorded but none of whose codes has moved (the request left it all to the sweep). */
  const cutBatch = async () => {
    const codes = await storedCodes(table, team, { quantity: DUE, expiresAt: new Date(clock.now().getTime() + 365 * 86_400_000) });
    const batchId = (await table.scanAll()).find((item) => item.type === 'access_code' && item.code === codes[0])!.batch_id as string;
    const answer = await cutBatchExpiry({ expiry: stores.expiry, clock, inlineMoveMs: 0 }, { batchId });
    expect(answer).toMatchObject({ changed: true, status: 'in_progress', codes_affected: 0 });
    return { codes, batchId };
  };

  test.each([1, 2, 3])('a batch cut to now, the sweep crashing after step %i of 3, then the next run: every code expired, one event each, counted once', async (k) => {
    const { codes, batchId } = await cutBatch();
    const crashing = sweeperCrashingAfter(k);

    expect((await invoke(crashing.handler, undefined, 'ExpirySweeper')).error).toBeDefined();
    expect((await stores.expiry.batchExpiry(batchId))!.codesAffected).toBe(Math.min(DUE, 49 * k));
    expect((await invoke(sweeperCrashingAfter(0).handler, undefined, 'ExpirySweeper')).error).toBeUndefined();

    await expectExpiredOnce(batchId, codes);
    expect(await stores.expiry.batchExpiry(batchId)).toMatchObject({ status: 'completed', codesAffected: DUE });
  });

  test('a batch cut to now, moved by two runs at once: every code expired, one event each, counted once', async () => {
    const { codes, batchId } = await cutBatch();
    const run = () => invoke(sweeperCrashingAfter(0).handler, undefined, 'ExpirySweeper');

    const outcomes = await concurrently(2, run);

    expect(outcomes.map((outcome) => outcome.error)).toEqual([undefined, undefined]);
    await expectExpiredOnce(batchId, codes);
    expect(await stores.expiry.batchExpiry(batchId)).toMatchObject({ status: 'completed', codesAffected: DUE });
  });
});

// ---- webhooks: dispatch (bus → deliveries) and delivery (queue → receiver) --------------------------

describe('webhooks: dispatch and delivery', () => {
  const secret = generateWebhookSecret();
  let receiver: WebhookReceiver;
  const queue = new RecordingQueue<WebhookDeliveryMessage>();
  let ports: WebhookPorts;
  let dispatch: ReturnType<typeof makeWebhookDispatch>;
  let delivery: ReturnType<typeof makeWebhookDelivery>;
  beforeAll(async () => {
    await freshTable();
    receiver = await startWebhookReceiver({ secrets: [secret] });
    ports = webhookPorts({
      db: table.db,
      tableName: table.tableName,
      scheduler: new RecordingScheduler(queue),
      allowPrivate: true,
      storeOptions: { deliveryRetentionDays: TEST_RETENTION_DAYS },
    });
    dispatch = webhookDispatchHandler(consumerPorts('WebhookDispatch', { webhooks: ports, queues: { webhookDelivery: ports.scheduler }, clock }));
    delivery = webhookDeliveryHandler(consumerPorts('WebhookDelivery', { webhooks: ports, queues: { webhookDelivery: ports.scheduler }, clock }));
  });
  afterAll(async () => receiver?.close());

  /** A project with two endpoints (paths of their own on one receiver) and an event of it. */
  const endpointsAndEvent = async () => {
    const projectId = `prj_${Math.random().toString(36).slice(2, 12)}`;
    const endpoints = ['a', 'b'].map((path) => anEndpoint(receiver.url(`/${projectId}/${path}`), secret, clock.now(), { projectId }));
    for (const endpoint of endpoints) await ports.endpoints.createEndpoint(endpoint);
    const job = queuedJob({ quantity: 5, projectId });
    const event = generatedEvent(job, clock.now());
    const busEvent = { version: '0', id: event.id, 'detail-type': event.type, source: 'memberpass', account: '0', time: event.created_at, region: 'local', resources: [], detail: event };
    return { endpoints, event, busEvent, deliveryIds: endpoints.map((endpoint) => deliveryIdFor(event.id, endpoint.id)) };
  };

  /** Runs EventBridge's retries: the dispatch again until it succeeds. */
  const dispatchUntilDone = async (busEvent: unknown) => {
    for (let attempt = 0; attempt < 5; attempt++) if ((await invoke(dispatch, busEvent as never, 'WebhookDispatch')).error === undefined) return;
    throw new Error('dispatch keeps failing');
  };

  /**
   * Plays the delivery queue for these deliveries (each message its own invocation, in turn,
   * delays waited out on the clock) and, once it is empty, the overdue-delivery sweep, as its
   * schedule would run it past the due times: until neither has anything left.
   */
  const deliverUntilDone = async (deliveryIds: readonly string[], inParallel = false) => {
    for (let round = 0; ; round++) {
      let batch = queue.take((body) => deliveryIds.includes(body.delivery_id));
      if (batch.length === 0) {
        clock.advance((SWEEP_GRACE_SECONDS + CLAIM_LEASE_SECONDS) * 1000);
        await sweepWebhookDeliveries({ store: ports.deliveries, scheduler: ports.scheduler, clock });
        batch = queue.take((body) => deliveryIds.includes(body.delivery_id));
        if (batch.length === 0) return;
      }
      if (round > 30) throw new Error('webhook deliveries keep coming');
      clock.advance(Math.max(0, ...batch.map((message) => message.delaySeconds ?? 0)) * 1000);
      const run = (body: WebhookDeliveryMessage) => runSqs(delivery, [body], 'WebhookDelivery');
      const failed = inParallel ? (await Promise.all(batch.map((message) => run(message.body)))).flat() : [];
      if (!inParallel) for (const message of batch) failed.push(...(await run(message.body)));
      if (failed.length > 0) {
        clock.advance(WEBHOOK_DELIVERY_VISIBILITY_TIMEOUT_SECONDS * 1000);
        queue.sent.push(...failed.map((body) => ({ body })));
      }
    }
  };

  /**
   * Each endpoint got the event, under its webhook-id, and its delivery succeeded with its
   * attempts recorded once each; `maxCopies` bounds the receipts of one webhook-id per endpoint
   * (a crash between sending and recording sends the same webhook-id again, which receivers
   * deduplicate).
   */
  const expectDeliveredOnce = async (setup: Awaited<ReturnType<typeof endpointsAndEvent>>, maxCopies = 1) => {
    for (const [i, endpoint] of setup.endpoints.entries()) {
      const receipts = receiver.received.filter((r) => r.path === new URL(endpoint.url).pathname);
      expect(receipts.length).toBeGreaterThanOrEqual(1);
      expect(receipts.length).toBeLessThanOrEqual(maxCopies);
      expect(new Set(receipts.map((r) => r.id))).toEqual(new Set([setup.event.id]));
      expect(receipts.every((r) => r.verified)).toBe(true);
      const stored = await ports.endpoints.getDeliveryWithAttempts(setup.deliveryIds[i]!);
      expect(stored?.delivery).toMatchObject({ status: 'succeeded', eventId: setup.event.id });
      expect(stored?.attempts.map((attempt) => attempt.attempt)).toEqual(Array.from({ length: stored!.attempts.length }, (_, n) => n + 1));
      expect(stored?.attempts.filter((attempt) => attempt.outcome === 'succeeded')).toHaveLength(1);
    }
    // One delivery per endpoint for the event: nothing made twice under another id.
    const deliveries = (await table.scanAll()).filter((item) => item.type === 'webhook_delivery' && item.event_id === setup.event.id);
    expect(deliveries).toHaveLength(setup.endpoints.length);
  };

  // The dispatch's writes for an event with two subscribed endpoints (per endpoint: record, queue).
  const dispatchWrites: Write[] = [
    { label: 'record delivery 1', target: () => ports.endpoints, method: 'createDeliveryIfAbsent', nth: 1 },
    { label: 'record delivery 2', target: () => ports.endpoints, method: 'createDeliveryIfAbsent', nth: 2 },
    { label: 'queue delivery 1', target: () => ports.scheduler, method: 'scheduleRetry', nth: 1 },
    { label: 'queue delivery 2', target: () => ports.scheduler, method: 'scheduleRetry', nth: 2 },
  ];

  test.each(numbered(dispatchWrites))('the dispatch crashes after write %s, EventBridge retries it: each endpoint gets the event once', async (_name, write) => {
    const setup = await endpointsAndEvent();
    const crashed = crash(write);

    await dispatchUntilDone(setup.busEvent);
    expect(crashed.crashes()).toBe(1);
    await deliverUntilDone(setup.deliveryIds);

    await expectDeliveredOnce(setup);
  });

  test('the same event dispatched twice, then three times at once (bus duplicates, relay republishing): each endpoint gets it once', async () => {
    const setup = await endpointsAndEvent();

    await dispatchUntilDone(setup.busEvent);
    await concurrently(3, () => dispatchUntilDone(setup.busEvent));
    await deliverUntilDone(setup.deliveryIds);
    await dispatchUntilDone(setup.busEvent);
    await deliverUntilDone(setup.deliveryIds);

    await expectDeliveredOnce(setup);
  });

  test('two events of a project dispatched in reverse order: each endpoint gets each event once', async () => {
    const first = await endpointsAndEvent();
    const job = queuedJob({ quantity: 5, projectId: first.event.project_id });
    const secondEvent = generatedEvent(job, clock.now());
    const second = {
      ...first,
      event: secondEvent,
      busEvent: { ...first.busEvent, id: secondEvent.id, detail: secondEvent },
      deliveryIds: first.endpoints.map((endpoint) => deliveryIdFor(secondEvent.id, endpoint.id)),
    };

    await dispatchUntilDone(second.busEvent);
    await dispatchUntilDone(first.busEvent);
    await deliverUntilDone([...second.deliveryIds, ...first.deliveryIds]);

    for (const [i, endpoint] of first.endpoints.entries()) {
      const receipts = receiver.received.filter((r) => r.path === new URL(endpoint.url).pathname);
      expect(receipts.map((r) => r.id).sort()).toEqual([first.event.id, secondEvent.id].sort());
      for (const id of [first.deliveryIds[i]!, second.deliveryIds[i]!]) expect((await ports.endpoints.getDeliveryWithAttempts(id))?.delivery.status).toBe('succeeded');
    }
  });

  // The delivery's writes for an attempt that fails (500) and a retry that succeeds.
  const deliveryWrites: Write[] = [
    { label: 'claim attempt 1', target: () => ports.deliveries, method: 'claimAttempt', nth: 1 },
    { label: 'send attempt 1 (answered 500)', target: () => ports.sender, method: 'send', nth: 1 },
    { label: 'record the endpoint failing', target: () => ports.deliveries, method: 'recordEndpointFailure', nth: 1 },
    { label: 'record attempt 1 and the next due time', target: () => ports.deliveries, method: 'recordAttempt', nth: 1 },
    { label: 'queue the retry', target: () => ports.scheduler, method: 'scheduleRetry', nth: 1 },
    { label: 'claim attempt 2', target: () => ports.deliveries, method: 'claimAttempt', nth: 2 },
    { label: 'send attempt 2', target: () => ports.sender, method: 'send', nth: 2 },
    { label: 'record the endpoint succeeding', target: () => ports.deliveries, method: 'recordEndpointSuccess', nth: 1 },
    { label: 'record attempt 2 succeeded', target: () => ports.deliveries, method: 'recordAttempt', nth: 2 },
  ];

  test.each(numbered(deliveryWrites))('the delivery crashes after write %s, the queue redelivers: the endpoint gets the event, one success recorded', async (_name, write) => {
    const setup = await endpointsAndEvent();
    const only = { ...setup, endpoints: setup.endpoints.slice(0, 1), deliveryIds: setup.deliveryIds.slice(0, 1) };
    await ports.endpoints.deleteEndpoint(setup.endpoints[1]!.id);
    await dispatchUntilDone(setup.busEvent);
    receiver.failNext(1, 500);
    const crashed = crash(write);

    await deliverUntilDone(only.deliveryIds);

    expect(crashed.crashes()).toBe(1);
    // Two attempts were made; a crash after a send and before its attempt is recorded sends
    // that attempt again (the same webhook-id).
    const beforeRecord = ['send', 'recordEndpointFailure', 'recordEndpointSuccess'].includes(write.method);
    await expectDeliveredOnce(only, 2 + (beforeRecord ? 1 : 0));
    const receipts = receiver.received.filter((r) => r.path === new URL(only.endpoints[0]!.url).pathname);
    const successSentAgain = (write.method === 'send' && write.nth === 2) || write.method === 'recordEndpointSuccess';
    expect(receipts.filter((r) => r.status === 200)).toHaveLength(successSentAgain ? 2 : 1);
  });

  test('each delivery message delivered twice at once, then again later: one success per endpoint, the webhook-id the same every time', async () => {
    const setup = await endpointsAndEvent();
    await dispatchUntilDone(setup.busEvent);
    const queued = queue.take((body) => setup.deliveryIds.includes(body.delivery_id));
    queue.sent.push(...queued, ...queued);

    await deliverUntilDone(setup.deliveryIds, true);
    queue.sent.push(...queued);
    await deliverUntilDone(setup.deliveryIds);

    // Two invocations side by side: the claim lets one of them send.
    await expectDeliveredOnce(setup);
  });
});
