import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type * as v from 'valibot';
import { DynamoAccountStore } from './adapters/dynamodb/account-store';
import { makeDocumentClient } from './adapters/dynamodb/client';
import { DynamoJobStore } from './adapters/dynamodb/job-store';
import { DynamoTableProbe, type TableProbe } from './adapters/dynamodb/table-probe';
import { EventBridgePublisher } from './adapters/eventbridge/event-bridge-publisher';
import { makeSqsClient } from './adapters/sqs/client';
import { SqsJobQueue } from './adapters/sqs/sqs-job-queue';
import { BOT_TOKEN_MAX_AGE_SECONDS, RotatingTokenTelegramSender, type BotTokenReader } from './adapters/telegram/rotating-token-sender';
import { BotEnv, ConfigurationError, GeneratorEnv, QueueEnv, RelayEnv, TableEnv, TelegramLinkEnv, TelegramWebhookEnv, parseEnv } from './contracts/env';
import type { JobStore } from './domain/job-store';
import { systemClock, type AccountStore, type Clock, type EventPublisher, type JobQueue, type TelegramSender } from './domain/ports';
import type { PipelineDeps } from './use-cases/pipeline';
import { tracer } from './observability';

/** What the HTTP handlers need, in production and in the local stack alike. */
export interface ApiDeps {
  accounts: AccountStore;
  jobs: JobStore;
  queue: JobQueue;
  clock: Clock;
}

const secretString = async (name: string, options: { maxAge?: number; forceFetch?: boolean } = {}): Promise<string> => {
  const value = await getSecret(name, options);
  if (typeof value !== 'string' || !value) throw new ConfigurationError(`the secret ${name} is empty`);
  return value;
};

/**
 * The bot's sender. Its token is read from Secrets Manager at cold start (callers await it at
 * module load, so a missing secret fails fast), then again once the cached value is older than
 * BOT_TOKEN_MAX_AGE_SECONDS, and at once when Telegram answers 401: a rotated token takes
 * effect without a redeploy.
 */
const productionBot = async (env: v.InferOutput<typeof BotEnv>): Promise<TelegramSender> => {
  const readToken: BotTokenReader = ({ forceFetch }) =>
    secretString(env.TELEGRAM_BOT_TOKEN_SECRET, { maxAge: BOT_TOKEN_MAX_AGE_SECONDS, forceFetch });
  await readToken({ forceFetch: false });
  return new RotatingTokenTelegramSender(readToken, env.TELEGRAM_API_ROOT ? { apiRoot: env.TELEGRAM_API_ROOT } : {});
};

let tableDeps: { accounts: AccountStore; jobs: JobStore; tableProbe: TableProbe } | undefined;

/** The table's stores, built once per cold start. */
export const productionTable = () => {
  if (tableDeps) return tableDeps;
  const env = parseEnv(TableEnv);
  const db = makeDocumentClient({}, (client) => tracer.captureAWSv3Client(client));
  tableDeps = {
    accounts: new DynamoAccountStore(db, env.TABLE_NAME),
    jobs: new DynamoJobStore(db, env.TABLE_NAME),
    tableProbe: new DynamoTableProbe(db, env.TABLE_NAME),
  };
  return tableDeps;
};

/** Production wiring of `GET /health`: a read of the table. */
export const productionHealthDeps = () => ({ tableProbe: productionTable().tableProbe });

/** A queue that refuses to be used: for functions that have no business queueing. */
const noQueue: JobQueue = {
  send: async () => {
    throw new ConfigurationError('this function has no queue configured');
  },
};

/** Production wiring of the HTTP handlers; the queue only where QUEUE_URL is configured. */
export const productionDeps = (): ApiDeps => {
  const queueUrl = process.env.QUEUE_URL;
  const queue = queueUrl ? new SqsJobQueue(tracer.captureAWSv3Client(makeSqsClient()), parseEnv(QueueEnv).QUEUE_URL) : noQueue;
  return { ...productionTable(), queue, clock: systemClock };
};

/** Production wiring of the generator: reads the bot token from Secrets Manager at cold start. */
export const productionPipelineDeps = async (): Promise<PipelineDeps> => {
  const env = parseEnv(GeneratorEnv);
  return {
    jobs: productionTable().jobs,
    queue: new SqsJobQueue(tracer.captureAWSv3Client(makeSqsClient()), env.QUEUE_URL),
    telegram: await productionBot(env),
    clock: systemClock,
    messageIntervalMs: env.TELEGRAM_MESSAGE_INTERVAL_MS,
  };
};

/** Production wiring of `POST /v1/telegram/link`. */
export const productionTelegramLinkDeps = () => {
  const { accounts } = productionTable();
  return { accounts, links: accounts, clock: systemClock, botUsername: parseEnv(TelegramLinkEnv).TELEGRAM_BOT_USERNAME };
};

/** Production wiring of the bot's webhook: reads the bot token and the webhook secret at cold start. */
export const productionTelegramWebhookDeps = async () => {
  const env = parseEnv(TelegramWebhookEnv);
  const [telegram, webhookSecret] = await Promise.all([productionBot(env), secretString(env.TELEGRAM_WEBHOOK_TOKEN_SECRET)]);
  const { accounts } = productionTable();
  return {
    accounts,
    links: accounts,
    telegram,
    clock: systemClock,
    webhookSecret,
  };
};

/** Production wiring of the outbox relay: the service's event bus. */
export const productionRelayDeps = (): { publisher: EventPublisher } => ({
  publisher: new EventBridgePublisher(tracer.captureAWSv3Client(new EventBridgeClient({})), parseEnv(RelayEnv).EVENT_BUS_NAME),
});
