import { DynamoTableProbe } from '../../functions/adapters/dynamodb/table-probe';
import { jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ability } from '../../functions/domain/abilities';
import type { EventEnvelope } from '../../functions/contracts/events';
import type { JobQueue } from '../../functions/domain/ports';
import type { DeliverMessage } from '../../functions/contracts/queue-messages';
import type { DeliveryDeps } from '../../functions/use-cases/generation/deliver-job';
import { delivererDeps } from '../../functions/handlers/queue/deliverer';
import { consumerPorts } from './consumer-ports';
import { sweepStalledJobs } from '../../functions/use-cases/job-sweeper';
import { makeTelegramSender } from '../../functions/adapters/telegram/factory';
import type { ApiDeps } from '../../functions/wiring';
import { API_ROUTES } from '../../lib/api-routes';
import { localHandlers } from '../../local/handlers';
import { startHttpServer } from '../../local/http-server';
import { EVENTS_FILE } from '../../local/in-process-bus';
import type { InProcessQueue } from '../../local/in-process-queue';
import { startLocalPipeline, type LocalPipeline } from '../../local/local-stack';
import { AwsBehaviour, type AwsBehaviourOptions } from '../../local/aws-behaviour';
import type { LocalWebhookOptions } from '../../local/webhooks';
import type { LocalBillingQueueOptions, LocalStripeOptions } from '../../local/billing';
import { httpCaller, TEST_WEBHOOK_SECRET, type ApiAnswer, type CallOptions } from './api';
import { FakeClock } from './clock';
import { createTestTable, dynamoEndpoint, type TestTable } from './dynamodb';
import type { FakeTelegram } from '../../local/fakes/fake-telegram';
import { createTeamFixture, type TeamFixture } from './fixtures';

/** Every ability; most pipeline tests act as a creator with all of them. */
export const ALL_ABILITIES: Ability[] = ['project-access-code:create', 'project-access-code:view-any', 'project-access-code:redeem'];

/** A code as people see it: three groups of four Crockford base32 symbols. */
export const DISPLAY_CODE = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;

/** When the harness's fake clock starts. */
export const HARNESS_START = new Date('2026-05-18T10:00:00Z');

/** A running pipeline (queue, generator, stream relay, bus) over its own table, with the HTTP API in front. */
export interface PipelineHarness {
  table: TestTable;
  dataDir: string;
  clock: FakeClock;
  /** What the API runs on: `deps.jobs` and `deps.queue` (the generation queue) are the pipeline's own instances. */
  deps: ApiDeps & { queue: InProcessQueue };
  /** The delivery queue. */
  deliveries: InProcessQueue<DeliverMessage>;
  /** The deliverer's dependencies, as the pipeline built them. */
  deliveryDeps: DeliveryDeps;
  /** Runs the job sweeper once, on the pipeline's own dependencies. */
  sweep(): ReturnType<typeof sweepStalledJobs>;
  /** Resolves once both queues have nothing visible and nothing in flight. */
  idle(timeoutMs?: number): Promise<void>;
  pipeline: LocalPipeline;
  fake: FakeTelegram;
  /** While set, the API's enqueue of a new job throws this (the pipeline's own sends still work). */
  apiQueueFault: Error | undefined;
  apiUrl: string;
  call(method: string, path: string, options?: CallOptions): Promise<ApiAnswer>;
  stop(): Promise<void>;
}

/**
 * Starts the local stack's pipeline (startLocalPipeline) on a fresh table and data dir, with
 * Telegram through the real Bot API client against `fake`, and the API routes served over HTTP
 * on the same dependencies. Setting `apiQueueFault` makes the API's enqueue fail (a lost enqueue)
 * while the generator keeps using the pipeline's queue.
 */
export const startPipelineHarness = async (
  fake: FakeTelegram,
  options: {
    messageIntervalMs?: number;
    webhooks?: LocalWebhookOptions;
    stripe?: LocalStripeOptions;
    billingQueue?: LocalBillingQueueOptions;
    /** The stack's table client with AWS's conflicts and throttles (`AwsBehaviour`). */
    awsBehaviour?: AwsBehaviourOptions;
  } = {},
): Promise<PipelineHarness> => {
  const table = await createTestTable();
  const dataDir = mkdtempSync(join(tmpdir(), 'memberpass-pipeline-'));
  const clock = new FakeClock(HARNESS_START);
  const telegram = makeTelegramSender({ botToken: '123456:TEST', apiRoot: fake.apiRoot });
  const local = await startLocalPipeline({
    dynamoEndpoint: dynamoEndpoint(),
    tableName: table.tableName,
    dataDir,
    clock,
    telegram,
    messageIntervalMs: options.messageIntervalMs ?? 5,
    // The fake clock starts in the past: keep its webhook deliveries from expiring at once (TTL).
    webhooks: { storeOptions: { deliveryRetentionDays: 3650 }, ...options.webhooks },
    ...(options.stripe ? { stripe: options.stripe } : {}),
    ...(options.billingQueue ? { billingQueue: options.billingQueue } : {}),
    ...(options.awsBehaviour ? { awsBehaviour: new AwsBehaviour(options.awsBehaviour) } : {}),
  });
  const deps = local.deps as unknown as ApiDeps & { queue: InProcessQueue };
  const apiQueue: JobQueue = {
    send: async (messages) => {
      if (harness.apiQueueFault) throw harness.apiQueueFault;
      await deps.queue.send(messages);
    },
  };
  const server = await startHttpServer(
    API_ROUTES,
    localHandlers({
      ...deps,
      queue: apiQueue,
      telegram,
      botUsername: 'memberpass_test_bot',
      webhookSecret: TEST_WEBHOOK_SECRET,
      tableProbe: new DynamoTableProbe(table.db, table.tableName),
      webhooks: local.deps.webhooks,
      expiry: local.pipeline.ports.stores.expiry,
    }),
  );
  const { ports } = local.pipeline;
  const harness: PipelineHarness = {
    table,
    dataDir,
    clock,
    deps,
    deliveries: local.pipeline.deliveries,
    deliveryDeps: delivererDeps(consumerPorts('Deliverer', ports)),
    sweep: () => sweepStalledJobs({ jobs: ports.stores.jobs, chats: ports.stores.chats, queue: ports.queues.generation, deliveries: ports.queues.delivery, clock: ports.clock }),
    idle: async (timeoutMs = 30_000) => {
      // Work flows one way, generation → delivery: once the first is idle, so is what it feeds.
      await deps.queue.idle(timeoutMs);
      await local.pipeline.deliveries.idle(timeoutMs);
    },
    pipeline: local.pipeline,
    fake,
    apiQueueFault: undefined,
    apiUrl: server.url,
    call: httpCaller(server.url),
    stop: async () => {
      await server.close();
      await local.stop();
      await table.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
};

let chats = 0;

/**
 * A team with a project linked to a Telegram chat of its own (so tests sharing a fake tell
 * their deliveries apart), a plan and tokens. The tier's allotment is large unless given, so
 * that jobs need no overage acknowledgement.
 */
export const createCreator = async (
  harness: PipelineHarness,
  tokens: Record<string, Ability[]> = { all: ALL_ABILITIES },
  tier = { freeAllotment: 1_000_000, unitPriceMinor: 3, currency: 'USD' },
): Promise<TeamFixture & { chatId: string; token: string }> => {
  const team = await createTeamFixture(harness.table.accounts, tokens, tier);
  const chatId = String(900_000 + process.pid * 100 + ++chats);
  await harness.table.accounts.setTelegramChat(team.projectId, chatId);
  return { ...team, chatId, token: Object.values(team.tokens)[0]! };
};

/** POST /v1/access-codes/bulk-generate. */
export const bulkGenerate = (harness: PipelineHarness, token: string, json: unknown, headers: Record<string, string> = {}) =>
  harness.call('POST', '/v1/access-codes/bulk-generate', { token, json, headers });

/**
 * Polls GET /v1/jobs/{id} every 50 ms until the job ends (or `timeoutMs` passes); returns its last
 * view. The default is a liveness bound under a loaded machine (a 300-code job takes ~10 s alone),
 * not a speed target.
 */
export const waitForJob = async (harness: PipelineHarness, token: string, jobId: string, timeoutMs = 150_000): Promise<any> => {
  const deadline = Date.now() + timeoutMs;
  let last: ApiAnswer | undefined;
  for (;;) {
    last = await harness.call('GET', `/v1/jobs/${jobId}`, { token });
    if (last.status !== 200) throw new Error(`GET /v1/jobs/${jobId} answered ${last.status}: ${last.text}`);
    if (['completed', 'failed'].includes(last.body.data.status)) return last.body.data;
    if (Date.now() > deadline) return last.body.data;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

/** Every code list_access_codes returns for a plan, following `next_cursor`; also how many pages it took. */
export const listAllCodes = async (
  harness: PipelineHarness,
  token: string,
  planId: string,
  query: Record<string, string> = {},
): Promise<{ codes: any[]; pages: number }> => {
  const codes: any[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const params = new URLSearchParams({ ...query, ...(cursor ? { cursor } : {}) });
    const answer = await harness.call('GET', `/v1/plans/${planId}/access-codes?${params}`, { token });
    if (answer.status !== 200) throw new Error(`list_access_codes answered ${answer.status}: ${answer.text}`);
    codes.push(...answer.body.data.codes);
    cursor = answer.body.data.next_cursor ?? undefined;
    pages++;
  } while (cursor);
  return { codes, pages };
};

/** Waits until the stream relay and the bus are done, then reads `events.jsonl`. */
export const publishedEvents = async (harness: PipelineHarness): Promise<EventEnvelope[]> => {
  await harness.pipeline.poller.idle();
  await harness.pipeline.bus.idle();
  let text = '';
  try {
    text = readFileSync(join(harness.dataDir, EVENTS_FILE), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as EventEnvelope);
};

/** The access_code.generated events of one batch. */
export const generatedEventsOf = async (harness: PipelineHarness, batchId: string) =>
  (await publishedEvents(harness)).filter(
    (event) => event.type === 'access_code.generated' && (event.data as { batch_id: string }).batch_id === batchId,
  );

/** The code items stored for a job (one per code, keyed by the code itself). */
export const codeItemsOf = async (harness: PipelineHarness, jobId: string) =>
  (await harness.table.scanAll()).filter((item) => item.type === 'access_code' && item.job_id === jobId);

/** Parses the CSV the generator sends (RFC 4180, CRLF, no quoted fields expected in it). */
export const parseCsv = (content: string): { header: string[]; rows: Array<Record<string, string>> } => {
  const lines = content.split('\r\n');
  if (lines.at(-1) === '') lines.pop();
  const header = (lines.shift() ?? '').split(',');
  return { header, rows: lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [header[i] ?? `#${i}`, value]))) };
};

/** The codes in the messages a chat received, in order. */
export const codesInMessages = (texts: readonly string[]): string[] =>
  texts.map((text) => /([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\s*$/.exec(text)?.[1] ?? `<no code in: ${text}>`);

/** An error standing for the process dying at a chosen point. */
export class InjectedCrash extends Error {
  constructor(point: string) {
    super(`injected crash ${point}`);
    this.name = 'InjectedCrash';
  }
}

/** What an injected crash saw: how often it fired and the arguments of the calls it broke. */
export interface CrashInjection {
  crashes(): number;
  crashedArgs: unknown[][];
  restore(): void;
}

/**
 * Makes `target[method]` throw on its `onCalls`-th calls (1-based): `after` lets the call
 * commit first (a crash right after the step), `before` throws instead of it (a crash right
 * before). Patches the very instance the pipeline holds, so every caller sees it.
 */
export const injectCrash = <T extends object>(
  target: T,
  method: keyof T & string,
  when: 'before' | 'after',
  onCalls: readonly number[] = [1],
): CrashInjection => {
  const subject = target as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = subject[method]!;
  let calls = 0;
  const crashedArgs: unknown[][] = [];
  subject[method] = async (...args: unknown[]) => {
    const crashNow = onCalls.includes(++calls);
    if (crashNow && when === 'before') {
      crashedArgs.push(args);
      throw new InjectedCrash(`before ${method}`);
    }
    const result = await original.apply(target, args);
    if (crashNow) {
      crashedArgs.push(args);
      throw new InjectedCrash(`after ${method}`);
    }
    return result;
  };
  return {
    crashes: () => crashedArgs.length,
    crashedArgs,
    restore: () => {
      // The patch is an own property shadowing the prototype's method.
      delete subject[method];
    },
  };
};

/**
 * Keeps the local queue's report of each failed batch off stderr (tests that crash or throttle
 * on purpose make many); every other console.error still shows.
 */
export const quietBatchFailures = (): void => {
  const report = console.error.bind(console);
  jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    if (!String(args[0]).includes('batch failed, its messages will be redelivered')) report(...args);
  });
};
