import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type * as v from 'valibot';
import { DynamoAccountStore } from './adapters/dynamodb/account-store';
import { makeDocumentClient } from './adapters/dynamodb/client';
import { DynamoJobStore } from './adapters/dynamodb/job-store';
import { DynamoCodeStore } from './adapters/dynamodb/code-store';
import { AesGcmCursorCodec, cursorKeyFromSecret } from './adapters/crypto/aes-gcm-cursor-codec';
import { EventBridgePublisher } from './adapters/eventbridge/event-bridge-publisher';
import { makeSqsClient } from './adapters/sqs/client';
import { SqsJobQueue } from './adapters/sqs/sqs-job-queue';
import { makeTelegramSender } from './adapters/telegram/factory';
import { DynamoTableProbe } from './adapters/dynamodb/table-probe';
import { BOT_TOKEN_MAX_AGE_SECONDS, RotatingTokenTelegramSender, type BotTokenReader } from './adapters/telegram/rotating-token-sender';
import { BotEnv, ConfigurationError, CursorEnv, GeneratorEnv, QueueEnv, RelayEnv, TableEnv, TelegramLinkEnv, TelegramWebhookEnv, parseEnv } from './contracts/env';
import {
  systemClock,
  type AccountStore,
  type Clock,
  type CodeStore,
  type CursorCodec,
  type EventPublisher,
  type JobQueue,
  type JobStore,
  type TableProbe,
  type TelegramSender,
} from './domain/ports';
import type { DepsFor, Needs, ServiceDeps } from './operations/operation';
import type { PipelineDeps } from './use-cases/pipeline';
import { tracer } from './observability';

/** What the HTTP handlers need, in production and in the local stack alike. */
export interface ApiDeps {
  accounts: AccountStore;
  jobs: JobStore;
  codes: CodeStore;
  cursors: CursorCodec;
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

let tableDeps: { accounts: AccountStore; jobs: JobStore; codes: CodeStore; tableProbe: TableProbe } | undefined;

/** The table's stores, built once per cold start. */
export const productionTable = () => {
  if (tableDeps) return tableDeps;
  const env = parseEnv(TableEnv);
  const db = makeDocumentClient({}, (client) => tracer.captureAWSv3Client(client));
  tableDeps = {
    accounts: new DynamoAccountStore(db, env.TABLE_NAME),
    jobs: new DynamoJobStore(db, env.TABLE_NAME),
    codes: new DynamoCodeStore(db, env.TABLE_NAME),
    tableProbe: new DynamoTableProbe(db, env.TABLE_NAME),
  };
  return tableDeps;
};

/**
 * Listing cursors sealed with the key in the secret named by CURSOR_KEY_SECRET, read on the
 * first cursor (only the listing route issues cursors, so the other routes need no secret).
 */
const productionCursors = (): CursorCodec =>
  new AesGcmCursorCodec(async () => cursorKeyFromSecret(await secretString(parseEnv(CursorEnv).CURSOR_KEY_SECRET)));

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
  return { ...productionTable(), cursors: productionCursors(), queue, clock: systemClock };
};

/** Production wiring of the generator: reads the bot token from Secrets Manager at cold start. */
export const productionPipelineDeps = async (): Promise<PipelineDeps> => {
  const env = parseEnv(GeneratorEnv);
  return {
    jobs: productionTable().jobs,
    codes: productionTable().codes,
    queue: new SqsJobQueue(tracer.captureAWSv3Client(makeSqsClient()), env.QUEUE_URL),
    telegram: await productionBot(env),
    clock: systemClock,
    messageIntervalMs: env.TELEGRAM_MESSAGE_INTERVAL_MS,
  };
};

/**
 * Production wiring of one catalog entry: exactly what its `needs` declare, each piece from the
 * environment CDK set for it (so a function is never handed a client it has no grant for).
 * Secrets are read at cold start: the entry point awaits this at module load.
 */
export const productionOperationDeps = async <N extends Needs>(needs: N): Promise<DepsFor<N>> => {
  const deps: Partial<ServiceDeps> = { clock: systemClock };
  if (needs.table) Object.assign(deps, productionTable());
  if (needs.queue) deps.queue = new SqsJobQueue(tracer.captureAWSv3Client(makeSqsClient()), parseEnv(QueueEnv).QUEUE_URL);
  if (needs.cursorKey) deps.cursors = productionCursors();
  if (needs.botUsername) deps.botUsername = parseEnv(TelegramLinkEnv).TELEGRAM_BOT_USERNAME;
  const [telegram, webhookSecret] = await Promise.all([
    needs.bot ? productionBot(parseEnv(BotEnv)) : undefined,
    needs.webhookSecret ? secretString(parseEnv(TelegramWebhookEnv).TELEGRAM_WEBHOOK_TOKEN_SECRET) : undefined,
  ]);
  if (telegram) deps.telegram = telegram;
  if (webhookSecret !== undefined) deps.webhookSecret = webhookSecret;
  return deps as DepsFor<N>;
};

/** Production wiring of the outbox relay: the service's event bus. */
export const productionRelayDeps = (): { publisher: EventPublisher } => ({
  publisher: new EventBridgePublisher(tracer.captureAWSv3Client(new EventBridgeClient({})), parseEnv(RelayEnv).EVENT_BUS_NAME),
});
