import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AesGcmCursorCodec, cursorKeyFromSecret } from './adapters/crypto/aes-gcm-cursor-codec';
import { DynamoAccountStore } from './adapters/dynamodb/account-store';
import { DynamoChatLeases } from './adapters/dynamodb/chat-leases';
import { makeDocumentClient } from './adapters/dynamodb/client';
import { ACCOUNT_READ_TTLS, withAccountReadCache } from './adapters/account-read-cache';
import { DynamoCodeStore } from './adapters/dynamodb/code-store';
import { DynamoJobStore } from './adapters/dynamodb/job-store';
import { DynamoRedemptionStore } from './adapters/dynamodb/redemption-store';
import { DynamoBillingStore } from './adapters/dynamodb/billing-store';
import { DynamoTableProbe } from './adapters/dynamodb/table-probe';
import { makeSqsClient } from './adapters/sqs/client';
import { secretString } from './adapters/secrets-manager';
import { SqsJobQueue } from './adapters/sqs/sqs-job-queue';
import type { ConsumerPortsBuilder } from './consumer-wiring';
import {
  BotEnv,
  BotSendEnv,
  ConfigurationError,
  CursorEnv,
  QueueEnv,
  TableEnv,
  TelegramLinkEnv,
  TelegramWebhookEnv,
  parseEnv,
} from './contracts/env';
import {
  type AccountReader,
  type AccountStore,
  type Clock,
  type CodeStore,
  type CursorCodec,
  type JobQueue,
  type JobStore,
  systemClock,
  type TelegramSender,
  type WebhookDeliveryStore,
  type WebhookRetryScheduler,
  type WebhookSender,
  type TableStores,
  type RedemptionStore,
} from './domain/ports';

import type { DepsFor, Needs, ServiceDeps } from './operations/operation';
import { DynamoWebhookStore, type DynamoWebhookStoreOptions } from './adapters/dynamodb/webhook-store';
import { SqsWebhookRetryScheduler } from './adapters/sqs/webhook-retry-scheduler';
import { HttpWebhookSender } from './adapters/webhooks/http-webhook-sender';
import { DnsWebhookUrlGuard } from './adapters/webhooks/url-guard';
import { WebhookEnv, WebhookQueueEnv } from './contracts/env';
import type { WebhookServices } from './use-cases/webhook-endpoints';
import { DynamoExpiryStore } from './adapters/dynamodb/expiry-store';

/** What the HTTP handlers need, in production and in the local stack alike. */
export interface ApiDeps {
  accounts: AccountStore;
  jobs: JobStore;
  codes: CodeStore;
  cursors: CursorCodec;
  queue: JobQueue;
  clock: Clock;
  redemptions: RedemptionStore;
  /** The account reads of redemption (projects cached too). */
  redemptionAccounts: AccountReader;
}

// Cold starts: a function's bundle holds what its entry point reaches (esbuild drops the rest),
// so what only some functions or some paths use is imported where it is used, with import():
// Secrets Manager (functions that read a secret, on first read: adapters/secrets-manager.ts),
// Telegram (on the first send). Stripe is wired in billing-wiring.ts, which only the billing
// function imports. No tracing SDK wraps the clients: Lambda's active tracing records each
// invocation without one.


/**
 * The bot's sender, loaded with its token on the first send (an invocation that sends nothing
 * pays for neither). The token is read from Secrets Manager then, again once the cached value is
 * older than BOT_TOKEN_MAX_AGE_SECONDS, and at once when Telegram answers 401: a rotated token
 * takes effect without a redeploy. A missing secret fails that first send (its message is
 * retried, then dead-lettered and alarmed on).
 */
const productionBot = async (env: { TELEGRAM_BOT_TOKEN_SECRET: string; TELEGRAM_API_ROOT?: string | undefined }): Promise<TelegramSender> => {
  let loaded: Promise<TelegramSender> | undefined;
  const sender = () =>
    (loaded ??= import('./adapters/telegram/rotating-token-sender').then(
      ({ BOT_TOKEN_MAX_AGE_SECONDS, RotatingTokenTelegramSender }) =>
        new RotatingTokenTelegramSender(
          ({ forceFetch }) => secretString(env.TELEGRAM_BOT_TOKEN_SECRET, { maxAge: BOT_TOKEN_MAX_AGE_SECONDS, forceFetch }),
          env.TELEGRAM_API_ROOT ? { apiRoot: env.TELEGRAM_API_ROOT } : {},
        ),
    ));
  return {
    sendDocument: async (chatId, document) => (await sender()).sendDocument(chatId, document),
    sendMessage: async (chatId, text) => (await sender()).sendMessage(chatId, text),
  };
};

/** The table's stores over a document client: the one builder of both composition roots. */
export const tableStores = (db: DynamoDBDocumentClient, tableName: string): TableStores => {
  const codes = new DynamoCodeStore(db, tableName);
  const accounts = new DynamoAccountStore(db, tableName);
  return {
    accounts: withAccountReadCache(accounts, ACCOUNT_READ_TTLS.api),
    redemptionAccounts: withAccountReadCache(accounts, ACCOUNT_READ_TTLS.redemption),
    jobs: new DynamoJobStore(db, tableName),
    codes,
    chats: new DynamoChatLeases(db, tableName),
    tableProbe: new DynamoTableProbe(db, tableName),
    redemptions: new DynamoRedemptionStore(db, tableName),
    billing: new DynamoBillingStore(db, tableName),
    expiry: new DynamoExpiryStore(db, tableName, codes),
  };
};

let tableDeps: TableStores | undefined;

/** The table's stores, built once per cold start. */
export const productionTable = (): TableStores => {
  if (tableDeps) return tableDeps;
  const env = parseEnv(TableEnv);
  tableDeps = tableStores(makeDocumentClient({}), env.TABLE_NAME);
  return tableDeps;
};

/**
 * Listing cursors sealed with the key in the secret named by CURSOR_KEY_SECRET, read on the
 * first cursor (only the listing route issues cursors, so the other routes need no secret).
 */
const productionCursors = (): CursorCodec =>
  new AesGcmCursorCodec(async () => cursorKeyFromSecret(await secretString(parseEnv(CursorEnv).CURSOR_KEY_SECRET)));

/** Builds what one need of an operation asks for (`Needs`), from the environment CDK set with its grant. */
export type NeedBuilder = () => Partial<ServiceDeps> | Promise<Partial<ServiceDeps>>;

// One builder per need, so that an entry point names only those of its operation's needs and its
// bundle holds only what they use (esbuild drops the builders, clients and secrets reader it does
// not reach).

/** The table's stores (the `table` need). */
export const tableNeed: NeedBuilder = () => productionTable();
/** The generation queue (the `queue` need). */
export const queueNeed: NeedBuilder = () => ({ queue: new SqsJobQueue(makeSqsClient(), parseEnv(QueueEnv).QUEUE_URL) });
/** The listing cursors' codec, its key read on the first cursor (the `cursorKey` need). */
export const cursorKeyNeed: NeedBuilder = () => ({ cursors: productionCursors() });
/** The bot's username (the `botUsername` need). */
export const botUsernameNeed: NeedBuilder = () => ({ botUsername: parseEnv(TelegramLinkEnv).TELEGRAM_BOT_USERNAME });
/** The Bot API sender, loaded with its token on the first send (the `bot` need). */
export const botNeed: NeedBuilder = async () => ({ telegram: await productionBot(parseEnv(BotEnv)) });
/** The Telegram webhook's secret token, read at cold start (the `webhookSecret` need). */
export const webhookSecretNeed: NeedBuilder = async () => ({ webhookSecret: await secretString(parseEnv(TelegramWebhookEnv).TELEGRAM_WEBHOOK_TOKEN_SECRET) });
/** The webhook endpoints' parts (the `webhooks` need). */
export const webhooksNeed: NeedBuilder = () => ({ webhooks: productionWebhookPorts('ifConfigured') });
/** The webhook delivery queue (the `webhookQueue` need): its URL checked at cold start; `webhooks`' scheduler sends to it. */
export const webhookQueueNeed: NeedBuilder = () => {
  parseEnv(WebhookQueueEnv);
  return {};
};

/**
 * A builder for each need that `N` declares: what an entry point passes to `productionOperationDeps`
 * (for an entry whose needs are only known at run time, any; a missing one fails at cold start).
 */
export type NeedBuilders<N extends Needs> = unknown extends N
  ? Readonly<Partial<Record<keyof Needs, NeedBuilder>>>
  : { readonly [K in keyof N & keyof Needs]-?: NeedBuilder };

/**
 * Production wiring of one catalog entry: exactly what its `needs` declare, each built by its
 * builder from the environment CDK set for it (so a function is never handed a client it has no
 * grant for). Secrets read at cold start are read side by side; the entry point awaits this at
 * module load. A declared need without a builder fails at cold start.
 */
export const productionOperationDeps = async <N extends Needs>(needs: N, builders: NeedBuilders<N>): Promise<DepsFor<N>> => {
  const declared = (Object.keys(needs) as Array<keyof Needs>).filter((need) => needs[need] !== undefined);
  const missing = declared.filter((need) => !(builders as Partial<Record<keyof Needs, NeedBuilder>>)[need]);
  if (missing.length) throw new ConfigurationError(`no builder for the needs ${missing.join(', ')}`);
  const parts = await Promise.all(declared.map((need) => (builders as Record<keyof Needs, NeedBuilder>)[need]()));
  return Object.assign({ clock: systemClock }, ...parts) as DepsFor<N>;
};

// ---- webhooks ----------------------------------------------------------------------------

/** What the webhook functions run on, in Lambda and in the local stack alike. */
export interface WebhookPorts extends WebhookServices {
  /** The same store as `endpoints`, seen from the delivery side. */
  deliveries: WebhookDeliveryStore;
}

/**
 * The webhook parts over a document client: the one builder of both composition roots. The
 * guard refuses http and non-public addresses unless `allowPrivate` (the local stack only).
 */
export const webhookPorts = (options: {
  db: DynamoDBDocumentClient;
  tableName: string;
  scheduler: WebhookRetryScheduler;
  allowPrivate: boolean;
  sender?: WebhookSender;
  storeOptions?: DynamoWebhookStoreOptions;
}): WebhookPorts => {
  const store = new DynamoWebhookStore(options.db, options.tableName, options.storeOptions);
  return {
    endpoints: store,
    deliveries: store,
    guard: new DnsWebhookUrlGuard({ allowPrivate: options.allowPrivate }),
    sender: options.sender ?? new HttpWebhookSender(),
    scheduler: options.scheduler,
  };
};

/** The webhook parts of this cold start, by how the delivery queue was asked for. */
const webhookDeps = new Map<'required' | 'ifConfigured', WebhookPorts>();

/** The delivery queue of a function deployed without it (a webhook route without the `webhookQueue` need): any use is a configuration error. */
const noDeliveryQueue: WebhookRetryScheduler = {
  scheduleRetry: async () => {
    throw new ConfigurationError('this function has no webhook delivery queue configured');
  },
};

/**
 * The webhook parts in Lambda, built once per cold start from WebhookEnv. `queue` 'required' (the
 * consumers, which all send to the delivery queue) fails at cold start without its URL;
 * 'ifConfigured' (the routes) sends to it only where the function was given it.
 */
export const productionWebhookPorts = (queue: 'required' | 'ifConfigured' = 'required'): WebhookPorts => {
  const built = webhookDeps.get(queue);
  if (built) return built;
  const env = parseEnv(WebhookEnv);
  const queueUrl = queue === 'required' ? parseEnv(WebhookQueueEnv).WEBHOOK_DELIVERY_QUEUE_URL : env.WEBHOOK_DELIVERY_QUEUE_URL;
  const ports = webhookPorts({
    db: makeDocumentClient({}),
    tableName: env.TABLE_NAME,
    scheduler: queueUrl ? new SqsWebhookRetryScheduler(makeSqsClient(), queueUrl) : noDeliveryQueue,
    allowPrivate: env.WEBHOOK_ALLOW_PRIVATE_URLS === '1',
  });
  webhookDeps.set(queue, ports);
  return ports;
};

// ---- consumers: the builders of the needs that use this module's own wiring ---------------
// (the others, and productionConsumerPorts, are in functions/consumer-wiring.ts)

/** The table's stores (`table` without `stores`): every one. Every consumer lists its stores; this serves one that would not, and tests. */
export const tablePorts: ConsumerPortsBuilder = () => ({ stores: productionTable() });

/** The Bot API sender, its token read from Secrets Manager on the first send (`bot`). */
export const botPorts: ConsumerPortsBuilder = async () => {
  const env = parseEnv(BotSendEnv);
  return { telegram: await productionBot(env), messageIntervalMs: env.TELEGRAM_MESSAGE_INTERVAL_MS };
};

/** The webhook parts (`webhooks`), the delivery queue required. */
export const webhooksPorts: ConsumerPortsBuilder = () => ({ webhooks: productionWebhookPorts('required') });

