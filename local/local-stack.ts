import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDocumentClient } from '../functions/adapters/dynamodb/client';
import { AesGcmCursorCodec } from '../functions/adapters/crypto/aes-gcm-cursor-codec';
import { localCursorKey } from './cursor-key';
import { DynamoTableProbe } from '../functions/adapters/dynamodb/table-probe';
import { logger } from '../functions/observability';
import { BotApiTelegramSender } from '../functions/adapters/telegram/bot-api-sender';
import { makeTelegramSender } from '../functions/adapters/telegram/factory';
import { systemClock, type Clock, type TelegramSender } from '../functions/domain/ports';
import type { DeliverMessage } from '../functions/contracts/queue-messages';
import { seedDemo, type DemoSeed } from '../functions/use-cases/admin';
import { tableStores, type ApiDeps } from '../functions/wiring';
import type { ConsumerPorts, ConsumerQueues } from '../functions/handlers/consumer';
import { API_ROUTES } from '../lib/api-routes';
import type { ServiceDeps } from '../functions/operations';
import { TELEGRAM } from '../functions/contracts/pipeline-settings';
import { CONSUMERS, type ConsumerId } from '../functions/contracts/consumers';
import { acquireDataDir, demoFilePath, readJsonFile, webhookSecretPath, writeRunningStack } from './data-dir';
import { AwsBehaviour, type AwsBehaviourOptions } from './aws-behaviour';
import { connectTable, localClientConfig, startLocalTable } from './dynamodb-local';
import { LOCAL_SETTINGS, startLocalConsumers } from './consumers';
import { ConsumerWiring, localHandlers } from './handlers';
import { startHttpServer } from './http-server';
import { InProcessEventBus } from './in-process-bus';
import { InProcessQueue, type DeadLetter } from './in-process-queue';
import type { StreamPoller } from './stream-poller';
import { isWebhookConsumer, startLocalWebhooks, type LocalWebhookOptions, type LocalWebhooks } from './webhooks';
import { isBillingConsumer, startLocalBilling, type LocalBilling, type LocalBillingQueueOptions, type LocalStripeOptions } from './billing';

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
  /** An existing DynamoDB endpoint to use instead of starting DynamoDB Local (the table is created if missing). */
  dynamoEndpoint?: string;
  /** Makes the stack's table client behave like DynamoDB where DynamoDB Local does not (`AwsBehaviour`). */
  awsBehaviour?: AwsBehaviourOptions;
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
  /** Let webhook URLs on http and private addresses through (WEBHOOK_ALLOW_PRIVATE_URLS=1). Default false. */
  webhookAllowPrivateUrls?: boolean;
  /** Stripe for billing (STRIPE_SECRET_KEY, STRIPE_API_BASE, STRIPE_METER_EVENT_NAME); without a key, `<data dir>/stripe-ledger.jsonl`. */
  stripe?: LocalStripeOptions;
  /** How often the job and expiry sweepers run (default each at its catalog rate, every minute, as in production). */
  sweepIntervalMs?: number;
  /**
   * Called once the stack has stopped itself because a part it cannot serve without died
   * (DynamoDB Local's Java process). Default: the error is logged.
   */
  onFatal?: (error: Error) => void;
}

/** The pipeline's moving parts, for tests and the benchmark to observe. */
export interface LocalPipeline {
  /** The generation queue, consumed by the generator. */
  queue: InProcessQueue;
  /** The delivery queue, consumed by the deliverer. */
  deliveries: InProcessQueue<DeliverMessage>;
  /** Where both queues move what they gave up on, consumed by the dead-letter handler. */
  deadLetters: InProcessQueue<unknown>;
  bus: InProcessEventBus;
  poller: StreamPoller;
  telegram: TelegramSender;
  /** What the pipeline's consumers are built on (beside the webhook and billing parts), for tests that run a use case by hand. */
  ports: Pick<ConsumerPorts, 'clock' | 'settings' | 'stores' | 'telegram' | 'messageIntervalMs' | 'publisher'> & { queues: Pick<ConsumerQueues, 'generation' | 'delivery'> };
  /** Runs the job sweeper's handler once, as its schedule does. */
  sweep(): Promise<void>;
  /** Webhook dispatch (on the bus) and delivery (its own queue). */
  webhooks: LocalWebhooks;
  /** The billing path: stream → billing queue (per customer) → billing handler. */
  billing: LocalBilling;
  /** Runs the expiry sweeper's handler once, as its schedule does. */
  expirySweep(): Promise<void>;
  /** Runs any scheduled consumer of the catalog besides the webhook and billing ones once, as its schedule does; resolves to what its handler returned. */
  runScheduled(id: ConsumerId): Promise<unknown>;
  /** The consumers of the catalog (functions/contracts/consumers.ts) this pipeline runs, each with the catalog's settings. */
  consumers: readonly ConsumerId[];
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
 * Everything behind the API, on one machine, composed like AWS from the consumer catalog: every
 * consumer's own handler (`startLocalConsumers`), on local ports narrowed to its needs as in
 * Lambda (DynamoDB Local, in-process queues with the CDK stack's settings, the given Telegram
 * sender, the in-process bus). The generation and delivery queues dead-letter into one queue; the
 * table's stream feeds the outbox relay and the billing forwarder; the webhook and billing
 * families start first (local/webhooks.ts, local/billing.ts), so that the dispatcher is on the
 * bus before the relay publishes. The other schedules run every `sweepIntervalMs`, or by hand.
 */
export const startLocalPipeline = async (options: {
  dynamoEndpoint: string;
  tableName: string;
  dataDir: string;
  clock?: Clock;
  telegram: TelegramSender;
  messageIntervalMs?: number;
  /**
   * How often every schedule besides the webhook and billing ones (today the job and expiry sweepers) runs:
   * 'catalog', each at its catalog rate; a number, all at it; without it, only by hand
   * (`pipeline.sweep()`, `expirySweep()`, `runScheduled(id)`).
   */
  sweepIntervalMs?: number | 'catalog';
  webhooks?: LocalWebhookOptions;
  /** Stripe for the billing function (STRIPE_SECRET_KEY, STRIPE_API_BASE, STRIPE_METER_EVENT_NAME); the ledger file without a key. */
  stripe?: LocalStripeOptions;
  /** The billing queue's retry settings (tests make them fast). */
  billingQueue?: LocalBillingQueueOptions;
  /** Makes the table client behave like DynamoDB where DynamoDB Local does not (and records its capacity). */
  awsBehaviour?: AwsBehaviour;
}): Promise<{ deps: ApiDeps & Pick<ServiceDeps, 'webhooks'>; pipeline: LocalPipeline; stop(): Promise<void> }> => {
  const clock = options.clock ?? systemClock;
  const db = makeDocumentClient(localClientConfig(options.dynamoEndpoint));
  options.awsBehaviour?.install(db);
  const stores = tableStores(db, options.tableName);
  const wiring = new ConsumerWiring();
  // The redrive policy of both queues in AWS: after their consumer's maxReceiveCount receives,
  // onto the dead-letter queue, whose own consumer fails the job.
  const deadLetters = new InProcessQueue<unknown>({ queueName: 'pipeline-dead-letters', ...wiring.queue('DeadLetter') });
  const redrive = async (dead: DeadLetter) => deadLetters.send([{ body: JSON.parse(dead.body) as unknown }]);
  // The same settings as the queues and their consumers' event sources in AWS.
  const queue = new InProcessQueue({ queueName: 'generation', ...wiring.queue('Generator'), onDeadLetter: redrive });
  const deliveries = new InProcessQueue<DeliverMessage>({ queueName: 'delivery', ...wiring.queue('Deliverer'), onDeadLetter: redrive });
  const bus = new InProcessEventBus({ dataDir: options.dataDir });
  const ports: LocalPipeline['ports'] = {
    clock,
    settings: LOCAL_SETTINGS,
    stores,
    queues: { generation: queue, delivery: deliveries },
    telegram: options.telegram,
    messageIntervalMs: options.messageIntervalMs ?? TELEGRAM.messageIntervalMs,
    publisher: bus,
  };
  const stream = { clientConfig: localClientConfig(options.dynamoEndpoint), tableName: options.tableName, dataDir: options.dataDir };
  const started: Array<{ stop(): Promise<void> }> = [];
  try {
    // The webhook dispatcher subscribes to the bus before the outbox relay publishes on it.
    const webhooks = await startLocalWebhooks({
      db,
      tableName: options.tableName,
      bus,
      clock,
      ...(options.webhooks ? { webhooks: options.webhooks } : {}),
      stackPorts: ports,
    });
    started.push(webhooks);
    const billing = await startLocalBilling({
      ...stream,
      stores,
      clock,
      ...(options.stripe ? { stripe: options.stripe } : {}),
      ...(options.billingQueue ? { queue: options.billingQueue } : {}),
      stackPorts: ports,
    });
    started.push(billing);
    // Every other consumer of the catalog, by its source: the queues above, the stream (the
    // outbox relay onto the bus), and the sweepers on `sweepIntervalMs` (startLocalStack: each at
    // its catalog rate) or when run by hand.
    const rest = await startLocalConsumers({
      consumers: CONSUMERS.filter((entry) => !isWebhookConsumer(entry) && !isBillingConsumer(entry)),
      ports: { ...ports, queues: { ...ports.queues, billing: billing.queue, webhookDelivery: webhooks.ports.scheduler }, webhooks: webhooks.ports },
      queues: { generation: queue, delivery: deliveries, pipelineDeadLetter: deadLetters },
      bus,
      stream,
      intervalMs: () => (options.sweepIntervalMs === 'catalog' ? undefined : (options.sweepIntervalMs ?? 0)),
    });
    const run = (id: ConsumerId) => async (): Promise<void> => void (await rest.run(id));
    return {
      deps: {
        accounts: stores.accounts,
        jobs: stores.jobs,
        codes: stores.codes,
        redemptions: stores.redemptions,
        redemptionAccounts: stores.redemptionAccounts,
        cursors: new AesGcmCursorCodec(localCursorKey(options.dataDir)),
        queue,
        clock,
        webhooks: webhooks.ports,
      },
      pipeline: {
        queue,
        deliveries,
        deadLetters,
        bus,
        poller: rest.pollers.get('OutboxRelay')!,
        telegram: options.telegram,
        ports,
        sweep: run('Sweeper'),
        webhooks,
        billing,
        expirySweep: run('ExpirySweeper'),
        runScheduled: (id) => rest.run(id),
        consumers: [...rest.ids, ...webhooks.consumers, ...billing.consumers],
      },
      stop: async () => {
        await rest.stop();
        await queue.stop();
        await deliveries.stop();
        await deadLetters.stop();
        await billing.stop();
        await bus.idle();
        await webhooks.stop();
        db.destroy();
      },
    };
  } catch (error) {
    // Every part that started is stopped, even when one of them fails to.
    for (const part of started.reverse()) await part.stop().catch((stopError: unknown) => logger.error('stopping a part failed', { error: stopError as Error }));
    await Promise.allSettled([queue.stop(), deliveries.stop(), deadLetters.stop()]);
    db.destroy();
    throw error;
  }
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
    const dynamo = options.dynamoEndpoint
      ? await connectTable(options.dynamoEndpoint, options.tableName)
      : await startLocalTable(options.dataDir, options.tableName);
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
      ...(options.awsBehaviour ? { awsBehaviour: new AwsBehaviour(options.awsBehaviour) } : {}),
      tableName: options.tableName,
      dataDir: options.dataDir,
      telegram,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.messageIntervalMs !== undefined ? { messageIntervalMs: options.messageIntervalMs } : {}),
      sweepIntervalMs: options.sweepIntervalMs ?? 'catalog',
      webhooks: { allowPrivateUrls: options.webhookAllowPrivateUrls ?? false },
      ...(options.stripe ? { stripe: options.stripe } : {}),
    });
    cleanups.push(() => local.stop());
    const { deps } = local;

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
        expiry: local.pipeline.ports.stores.expiry,
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
