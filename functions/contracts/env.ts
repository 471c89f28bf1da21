import * as v from 'valibot';
import { TELEGRAM } from './pipeline-settings';

/** Environment every Lambda that touches the table needs. */
export const TableEnv = v.object({
  TABLE_NAME: v.pipe(v.string(), v.minLength(1)),
});

/** The environment variables the functions read, by name: CDK sets them, wiring parses them. */
export const ENV = {
  TABLE_NAME: 'TABLE_NAME',
  QUEUE_URL: 'QUEUE_URL',
  DELIVERY_QUEUE_URL: 'DELIVERY_QUEUE_URL',
  EVENT_BUS_NAME: 'EVENT_BUS_NAME',
  TELEGRAM_BOT_TOKEN_SECRET: 'TELEGRAM_BOT_TOKEN_SECRET',
  TELEGRAM_WEBHOOK_TOKEN_SECRET: 'TELEGRAM_WEBHOOK_TOKEN_SECRET',
  TELEGRAM_API_ROOT: 'TELEGRAM_API_ROOT',
  TELEGRAM_BOT_USERNAME: 'TELEGRAM_BOT_USERNAME',
  TELEGRAM_MESSAGE_INTERVAL_MS: 'TELEGRAM_MESSAGE_INTERVAL_MS',
  CURSOR_KEY_SECRET: 'CURSOR_KEY_SECRET',
  WEBHOOK_DELIVERY_QUEUE_URL: 'WEBHOOK_DELIVERY_QUEUE_URL',
  WEBHOOK_ALLOW_PRIVATE_URLS: 'WEBHOOK_ALLOW_PRIVATE_URLS',
  BILLING_QUEUE_URL: 'BILLING_QUEUE_URL',
  STRIPE_SECRET_NAME: 'STRIPE_SECRET_NAME',
  STRIPE_METER_EVENT_NAME: 'STRIPE_METER_EVENT_NAME',
  STRIPE_API_BASE: 'STRIPE_API_BASE',
} as const;

/** Environment of functions that queue pipeline work. */
export const QueueEnv = v.object({ ...TableEnv.entries, QUEUE_URL: v.pipe(v.string(), v.url()) });

/** Environment of functions that talk to the bot: where its token lives, and an optional Bot API server. */
export const BotEnv = v.object({
  TELEGRAM_BOT_TOKEN_SECRET: v.pipe(v.string(), v.minLength(1)),
  TELEGRAM_API_ROOT: v.optional(v.pipe(v.string(), v.url())),
});

/** Environment of a consumer that sends with the bot: the bot, and the pause between two sends to one chat. */
export const BotSendEnv = v.object({
  ...BotEnv.entries,
  TELEGRAM_MESSAGE_INTERVAL_MS: v.optional(v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number)), String(TELEGRAM.messageIntervalMs)),
});

/** Environment of the link route: the bot's username, for deep links. */
export const TelegramLinkEnv = v.object({ TELEGRAM_BOT_USERNAME: v.pipe(v.string(), v.regex(/^\w{5,32}$/)) });

/** Environment of the bot's webhook: where its token and the webhook's secret token live. */
export const TelegramWebhookEnv = v.object({
  ...TableEnv.entries,
  ...BotEnv.entries,
  TELEGRAM_WEBHOOK_TOKEN_SECRET: v.pipe(v.string(), v.minLength(1)),
});

/** Environment of functions that issue listing cursors: the secret holding the cursor key (32 bytes, base64). */
export const CursorEnv = v.object({ CURSOR_KEY_SECRET: v.pipe(v.string(), v.minLength(1)) });

/** Environment of the outbox relay: the bus it publishes to. */
export const RelayEnv = v.object({ EVENT_BUS_NAME: v.pipe(v.string(), v.minLength(1)) });

/**
 * Environment of the functions that touch webhooks: the delivery queue where they send to it, and
 * whether the SSRF guard lets http and private addresses through (`1` only in the local stack;
 * CDK never sets it).
 */
export const WebhookEnv = v.object({
  ...TableEnv.entries,
  /** Only where the function sends to the delivery queue (the consumers that do, a route with the `webhookQueue` need). */
  WEBHOOK_DELIVERY_QUEUE_URL: v.optional(v.pipe(v.string(), v.url())),
  WEBHOOK_ALLOW_PRIVATE_URLS: v.optional(v.picklist(['0', '1']), '0'),
});

/** Environment of functions that send to the webhook delivery queue: its URL, required. */
export const WebhookQueueEnv = v.object({ WEBHOOK_DELIVERY_QUEUE_URL: v.pipe(v.string(), v.url()) });

/** Thrown at cold start when the environment is incomplete; names every bad variable. */
export class ConfigurationError extends Error {}

/** The queue URL in environment variable `variable` (a consumer's `sends`: QUEUE_URL_VARIABLE), failing fast without it. */
export const queueUrlFrom = (variable: string, env: NodeJS.ProcessEnv = process.env): string =>
  parseEnv(v.object({ [variable]: v.pipe(v.string(), v.url()) }), env)[variable] as string;

/** Parses environment variables once, failing fast with every missing or bad variable named. */
export const parseEnv = <S extends v.GenericSchema>(schema: S, env: NodeJS.ProcessEnv = process.env): v.InferOutput<S> => {
  const result = v.safeParse(schema, env);
  if (result.success) return result.output;
  const problems = result.issues.map((issue) => `${v.getDotPath(issue) ?? '?'}: ${issue.message}`);
  throw new ConfigurationError(`Invalid configuration: ${problems.join('; ')}`);
};

/** The Stripe meter's event name when the stage sets none. */
export const DEFAULT_METER_EVENT_NAME = 'access_code_redemption';
const meterEventName = v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'must be a meter event name')), DEFAULT_METER_EVENT_NAME);
const stripeApiBase = v.optional(v.pipe(v.string(), v.url('must be a URL such as http://127.0.0.1:12111')));

/** Environment of the billing function: the table, the secret holding the Stripe key, the meter's event name. */
export const BillingEnv = v.object({
  ...TableEnv.entries,
  STRIPE_SECRET_NAME: v.pipe(v.string(), v.minLength(1)),
  STRIPE_METER_EVENT_NAME: meterEventName,
  STRIPE_API_BASE: stripeApiBase,
});

/**
 * The local stack's billing environment (parse with `parseEnv` at start). In AWS the key comes
 * from Secrets Manager (`BillingEnv`); `STRIPE_SECRET_KEY` is the local stack's way in.
 */
export const StripeEnv = v.object({
  STRIPE_SECRET_KEY: v.optional(v.pipe(v.string(), v.regex(/^(sk|rk)_[A-Za-z0-9_]+$/, 'must be a Stripe secret or restricted key (sk_… / rk_…)'))),
  STRIPE_API_BASE: stripeApiBase,
  STRIPE_METER_EVENT_NAME: meterEventName,
});
