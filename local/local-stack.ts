import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoAccountStore } from '../functions/adapters/dynamodb/account-store';
import { makeDocumentClient } from '../functions/adapters/dynamodb/client';
import { DynamoJobStore } from '../functions/adapters/dynamodb/job-store';
import { DynamoCodeStore } from '../functions/adapters/dynamodb/code-store';
import { AesGcmCursorCodec } from '../functions/adapters/crypto/aes-gcm-cursor-codec';
import { localCursorKey } from './cursor-key';
import { DynamoTableProbe } from '../functions/adapters/dynamodb/table-probe';
import { logger } from '../functions/observability';
import { BotApiTelegramSender } from '../functions/adapters/telegram/bot-api-sender';
import { makeTelegramSender } from '../functions/adapters/telegram/factory';
import { systemClock, type Clock, type TelegramSender } from '../functions/domain/ports';
import { makeHandler as makeGenerator } from '../functions/handlers/queue/generator';
import { parsePipelineMessage } from '../functions/contracts/queue-messages';
import { makeHandler as makeOutboxRelay } from '../functions/handlers/stream/outbox-relay';
import { makeHandler as makeSweeper } from '../functions/handlers/schedule/sweeper';
import { seedDemo, type DemoSeed } from '../functions/use-cases/admin';
import type { PipelineDeps } from '../functions/use-cases/pipeline';
import { failDeadLetteredJob } from '../functions/use-cases/sweep-jobs';
import type { ApiDeps } from '../functions/wiring';
import { API_ROUTES } from '../lib/api-routes';
import {
  GENERATION_VISIBILITY_TIMEOUT_SECONDS,
  GENERATOR,
  MAX_RECEIVE_COUNT,
  RELAY_RETRY_ATTEMPTS,
  SWEEP_INTERVAL_SECONDS,
} from '../functions/contracts/pipeline-settings';
import { acquireDataDir, demoFilePath, readJsonFile, webhookSecretPath, writeRunningStack } from './data-dir';
import { localClientConfig, startLocalTable } from './dynamodb-local';
import { localHandlers } from './handlers';
import { localLambdaContext, runInvocation } from './lambda-context';
import { startHttpServer } from './http-server';
import { InProcessEventBus } from './in-process-bus';
import { InProcessQueue } from './in-process-queue';
import { StreamPoller } from './stream-poller';

/** The demo as written to `<data dir>/demo.json`. */
export interface DemoFile {
  api_url: string;
  token: string;
  team_id: string;
  project_id: string;
  plan_id: string;
}

/** Settings of the local stack. */
export interface LocalStackOptions {
  dataDir: string;
  host: string;
  port: number;
  tableName: string;
  clock?: Clock;
  /** Real Bot API when set (TELEGRAM_BOT_TOKEN), else the outbox folder under the data dir. */
  telegramBotToken?: string;
  telegramApiRoot?: string;
  /** The bot's username for deep links; asked of the Bot API when there is a token, else a demo name. */
  telegramBotUsername?: string;
  /** The webhook's secret token; else one kept in `<data dir>/telegram-webhook-secret`. */
  telegramWebhookSecret?: string;
  /** Pause between two Telegram messages to one chat (default 1100 ms, as in production). */
  messageIntervalMs?: number;
  /** How often the sweeper runs (default every minute, as in production). */
  sweepIntervalMs?: number;
  /**
   * Called once the stack has stopped itself because a part it cannot serve without died
   * (DynamoDB Local's Java process). Default: the error is logged.
   */
  onFatal?: (error: Error) => void;
}

/** The pipeline's moving parts, for tests and the benchmark to observe. */
export interface LocalPipeline {
  queue: InProcessQueue;
  bus: InProcessEventBus;
  poller: StreamPoller;
  telegram: TelegramSender;
}

/** A running local stack. */
export interface LocalStack {
  apiUrl: string;
  dynamoEndpoint: string;
  demo: DemoFile;
  demoFile: string;
  telegramTarget: string;
  telegramBotUsername: string;
  telegramWebhookSecret: string;
  /** Where the webhook secret comes from (its file, or the environment), to print instead of the secret. */
  telegramWebhookSecretSource: string;
  pipeline: LocalPipeline;
  stop(): Promise<void>;
}

/** The webhook secret token of this data dir: made once, then kept, so a registered webhook keeps working. */
const webhookSecretOf = (dataDir: string): string => {
  const file = webhookSecretPath(dataDir);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
};

/** The bot's username: as configured, else as the Bot API says, else a demo name. */
const botUsernameOf = async (telegram: TelegramSender, configured?: string): Promise<string> => {
  if (configured) return configured;
  if (telegram instanceof BotApiTelegramSender) {
    try {
      return await telegram.getBotUsername();
    } catch (error) {
      logger.warn('getMe failed; deep links use a placeholder bot name', { error: error as Error });
    }
  }
  return 'memberpass_demo_bot';
};

/**
 * Everything behind the API, on one machine: the same handlers as in Lambda over DynamoDB
 * Local, the in-process queue feeding the generator, the table's stream feeding the outbox
 * relay onto the in-process bus, and the sweeper on a timer.
 */
export const startLocalPipeline = async (options: {
  dynamoEndpoint: string;
  tableName: string;
  dataDir: string;
  clock?: Clock;
  telegram: TelegramSender;
  messageIntervalMs?: number;
}): Promise<{ deps: ApiDeps; pipeline: LocalPipeline; stop(): Promise<void> }> => {
  const clock = options.clock ?? systemClock;
  const db = makeDocumentClient(localClientConfig(options.dynamoEndpoint));
  const jobs = new DynamoJobStore(db, options.tableName);
  const codes = new DynamoCodeStore(db, options.tableName);
  const queue = new InProcessQueue({
    // The same settings as the generation queue and the generator's event source in AWS.
    visibilityTimeoutSeconds: GENERATION_VISIBILITY_TIMEOUT_SECONDS,
    functionTimeoutSeconds: GENERATOR.timeoutSeconds,
    maxReceiveCount: MAX_RECEIVE_COUNT,
    batchSize: GENERATOR.batchSize,
    maxConcurrency: GENERATOR.maxConcurrency,
    onDeadLetter: async (dead) => {
      const message = parsePipelineMessage(dead.body);
      if (message) await failDeadLetteredJob({ jobs, queue, clock }, message);
    },
  });
  const pipelineDeps: PipelineDeps = {
    jobs,
    codes,
    queue,
    telegram: options.telegram,
    clock,
    messageIntervalMs: options.messageIntervalMs ?? 1100,
  };
  queue.start(makeGenerator(pipelineDeps));
  const bus = new InProcessEventBus({ dataDir: options.dataDir });
  const poller = new StreamPoller({
    clientConfig: localClientConfig(options.dynamoEndpoint),
    tableName: options.tableName,
    handler: makeOutboxRelay({ publisher: bus }),
    checkpointFile: join(options.dataDir, 'stream-checkpoint.json'),
    maxRetryAttempts: RELAY_RETRY_ATTEMPTS,
  });
  await poller.start();
  return {
    deps: {
      accounts: new DynamoAccountStore(db, options.tableName),
      jobs,
      codes,
      cursors: new AesGcmCursorCodec(localCursorKey(options.dataDir)),
      queue,
      clock,
    },
    pipeline: { queue, bus, poller, telegram: options.telegram },
    stop: async () => {
      await queue.stop();
      await poller.stop();
      await bus.idle();
      db.destroy();
    },
  };
};

/**
 * Starts the whole service on one machine.
 * 1. Lock the data dir (a second stack on it fails clearly); keep it to its owner.
 * 2. Start DynamoDB Local on it and create the table from the shared definition; if Java dies
 *    later, stop everything and say so (`onFatal`) rather than serve errors.
 * 3. Start the pipeline, seed the demo idempotently (keeping the demo token across restarts).
 * 4. Serve the API routes with the same handler code as Lambda; sweep every minute.
 */
export const startLocalStack = async (options: LocalStackOptions): Promise<LocalStack> => {
  const lock = acquireDataDir(options.dataDir, 'starting the local stack');
  const cleanups: Array<() => Promise<void> | void> = [() => lock.release()];
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    })());
  try {
    const dynamo = await startLocalTable(options.dataDir, options.tableName);
    cleanups.push(() => dynamo.stop());
    dynamo.onUnexpectedExit((reason) => {
      const error = new Error(
        `DynamoDB Local (Java, pid ${dynamo.pid}) ${reason} unexpectedly. The local stack cannot serve without it and has stopped; ` +
          'its data is kept on disk. Start it again with `npm start`.',
      );
      void stop().then(
        () => (options.onFatal ?? ((e: Error) => logger.error(e.message)))(error),
        (stopError: unknown) => (options.onFatal ?? ((e: Error) => logger.error(e.message)))(new Error(`${error.message} (stopping failed: ${String(stopError)})`)),
      );
    });
    const probeDb = makeDocumentClient(localClientConfig(dynamo.endpoint));
    cleanups.push(() => probeDb.destroy());

    const telegram = makeTelegramSender({
      ...(options.telegramBotToken ? { botToken: options.telegramBotToken } : {}),
      ...(options.telegramApiRoot ? { apiRoot: options.telegramApiRoot } : {}),
      outboxDir: options.dataDir,
    });
    const telegramTarget = options.telegramBotToken
      ? `Bot API at ${options.telegramApiRoot ?? 'https://api.telegram.org'}`
      : `outbox folder ${join(options.dataDir, 'telegram-outbox')} (set TELEGRAM_BOT_TOKEN for a real bot)`;
    const local = await startLocalPipeline({
      dynamoEndpoint: dynamo.endpoint,
      tableName: options.tableName,
      dataDir: options.dataDir,
      telegram,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.messageIntervalMs !== undefined ? { messageIntervalMs: options.messageIntervalMs } : {}),
    });
    cleanups.push(() => local.stop());
    const { deps } = local;

    // The sweeper's own handler, invoked as the schedule would: its logs carry its own name.
    const sweep = makeSweeper(deps);
    const sweeper = setInterval(() => {
      const context = localLambdaContext({ functionName: 'Sweeper', remainingMs: () => 60_000 });
      runInvocation(context, () => sweep({}, context)).catch((error: unknown) => logger.error('sweep failed', { error: error as Error }));
    }, options.sweepIntervalMs ?? SWEEP_INTERVAL_SECONDS * 1000);
    cleanups.push(() => clearInterval(sweeper));

    const demoFile = demoFilePath(options.dataDir);
    const previous = readJsonFile<DemoFile>(demoFile);
    const seed: DemoSeed = await seedDemo(deps, previous?.token ? { knownToken: previous.token } : {});

    const telegramBotUsername = await botUsernameOf(telegram, options.telegramBotUsername);
    const telegramWebhookSecret = options.telegramWebhookSecret ?? webhookSecretOf(options.dataDir);
    const telegramWebhookSecretSource = options.telegramWebhookSecret
      ? 'the TELEGRAM_WEBHOOK_SECRET environment variable'
      : webhookSecretPath(options.dataDir);
    const http = await startHttpServer(
      API_ROUTES,
      localHandlers({
        ...deps,
        telegram,
        botUsername: telegramBotUsername,
        webhookSecret: telegramWebhookSecret,
        tableProbe: new DynamoTableProbe(probeDb, options.tableName),
      }),
      { host: options.host, port: options.port },
    );
    cleanups.push(() => http.close());
    const demo: DemoFile = {
      api_url: http.url,
      token: seed.token,
      team_id: seed.team_id,
      project_id: seed.project_id,
      plan_id: seed.plan_id,
    };
    writeFileSync(demoFile, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
    writeRunningStack(options.dataDir, {
      pid: process.pid,
      dynamodb_endpoint: dynamo.endpoint,
      ...(dynamo.pid === undefined ? {} : { dynamodb_pid: dynamo.pid }),
      table_name: options.tableName,
      api_url: http.url,
    });
    return {
      apiUrl: http.url,
      dynamoEndpoint: dynamo.endpoint,
      demo,
      demoFile,
      telegramTarget,
      telegramBotUsername,
      telegramWebhookSecret,
      telegramWebhookSecretSource,
      pipeline: local.pipeline,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};
