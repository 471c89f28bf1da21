/**
 * The consumer catalog: every background function of the service (what a queue, the table's
 * stream, a schedule or the event bus invokes), each declared once with its entry point, what it
 * needs, what feeds it and its settings. The CDK stack makes one Lambda, its grants and its event
 * source of each (lib/constructs/consumers.ts); the local stack runs the same handlers with the
 * same settings (local/local-stack.ts and the files it starts). Plain data over the other
 * contracts, so that lib/ and local/ read it without loading any handler.
 */
import { ENV } from './env';
import { OUTBOX_ITEM_TYPE } from './outbox';
import {
  DEAD_LETTER_CONSUMER,
  DELIVERER,
  DELIVERY_VISIBILITY_TIMEOUT_SECONDS,
  GENERATION_VISIBILITY_TIMEOUT_SECONDS,
  GENERATOR,
  MAX_RECEIVE_COUNT,
  RELAY_RETRY_ATTEMPTS,
  SWEEP_INTERVAL_SECONDS,
  VISIBILITY_TIMEOUT_FACTOR,
  WEBHOOK_DELIVERY,
  WEBHOOK_DELIVERY_VISIBILITY_TIMEOUT_SECONDS,
  WEBHOOK_DISPATCH,
} from './pipeline-settings';
import { BILLING_POLICY } from './billing-policy';
import { keys } from './table';

/** The queues consumers read and send to. */
export type QueueName = 'generation' | 'delivery' | 'pipelineDeadLetter' | 'billing' | 'webhookDelivery';

/** The environment variable that carries each queue's URL to a function that sends to it. */
export const QUEUE_URL_VARIABLE: Readonly<Record<Exclude<QueueName, 'pipelineDeadLetter'>, string>> = {
  generation: ENV.QUEUE_URL,
  delivery: ENV.DELIVERY_QUEUE_URL,
  billing: ENV.BILLING_QUEUE_URL,
  webhookDelivery: ENV.WEBHOOK_DELIVERY_QUEUE_URL,
};

/** The table's stores a consumer may read (TableStores in functions/domain/ports.ts). */
export type StoreName = 'accounts' | 'jobs' | 'codes' | 'chats' | 'billing' | 'expiry';

/**
 * What a consumer's function needs, in the operation catalog's terms where they are the same
 * (`table`, `bot`): each is a least-privilege grant plus its environment variable in CDK.
 */
export interface ConsumerNeeds {
  /**
   * The table (TABLE_NAME), with this access (the operation catalog's TableNeed); `expirySweep`
   * is the expiry sweeper's narrower grant: Query on the expiry index (gsi3), the writes of its
   * transactions, and the reads of a batch expiry change.
   */
  readonly table?: 'read' | 'readWrite' | 'expirySweep';
  /**
   * With `table`: the table's stores the handler reads. Its function builds these alone (its
   * bundle holds no other store), and a handler that reads another fails as it is built. None
   * listed: the table is a grant only (the webhook parts have their own store).
   */
  readonly stores?: readonly StoreName[];
  /** Partition key prefixes whose items the function deletes (DeleteItem under dynamodb:LeadingKeys). */
  readonly deletes?: readonly string[];
  /** Queues the function sends to (sqs:SendMessage, and the URL in QUEUE_URL_VARIABLE). */
  readonly sends?: readonly Exclude<QueueName, 'pipelineDeadLetter'>[];
  /** The Bot API: the bot token's secret, and TELEGRAM_API_ROOT when the stage sets one. */
  readonly bot?: true;
  /** Publishing to the service's event bus (EVENT_BUS_NAME). */
  readonly eventBus?: true;
  /** Stripe: the key's secret (STRIPE_SECRET_NAME) and the stage's meter event name (STRIPE_METER_EVENT_NAME). */
  readonly stripe?: true;
  /**
   * The webhook parts: the endpoints and deliveries (over the `table` grant), the SSRF guard, the
   * signed HTTPS sender, and the delivery queue (with `sends: ['webhookDelivery']`).
   */
  readonly webhooks?: true;
}

/** An SQS event source, and the settings of the queue it reads that its consumer decides. */
export interface QueueSource {
  readonly kind: 'queue';
  readonly queue: QueueName;
  /** Messages per invocation. */
  readonly batchSize: number;
  /** The event source mapping's MaximumConcurrency; none: Lambda's own scaling. */
  readonly maxConcurrency?: number;
  /** The handler answers with the records that failed (partial batch responses). */
  readonly reportBatchItemFailures: boolean;
  /** The queue's visibility timeout. */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before the queue moves a message to its dead-letter queue; none: the queue has no redrive. */
  readonly maxReceiveCount?: number;
}

/** The DynamoDB stream records a stream consumer is invoked for (a Lambda filter on the table's stream). */
export interface StreamFilter {
  readonly eventNames: readonly ('INSERT' | 'MODIFY' | 'REMOVE')[];
  /** String attributes the new image must have, with these values. */
  readonly newImage: Readonly<Record<string, string>>;
}

/** The table's stream as an event source (from its oldest record), failed batches to the relay dead-letter queue. */
export interface StreamSource {
  readonly kind: 'stream';
  readonly filter: StreamFilter;
  readonly batchSize: number;
  /** How long Lambda gathers records before it invokes; none: at once. */
  readonly maxBatchingWindowSeconds?: number;
  /** Retries of a failing batch (halved each time: bisect on error) before it is given up. */
  readonly retryAttempts: number;
}

/** An EventBridge Scheduler schedule in the service's schedule group; a failed run is not retried. */
export interface ScheduleSource {
  readonly kind: 'schedule';
  readonly everySeconds: number;
  /** The schedule's one line in the console. */
  readonly description: string;
}

/**
 * Every rule of EVENT_RULES on the service bus, each with this function as its target. What
 * EventBridge cannot deliver goes to the event-target dead-letter queue; what the function still
 * fails on after Lambda's async retries goes to the consumer's own dead-letter queue.
 */
export interface EventRulesSource {
  readonly kind: 'eventRules';
  /** How EventBridge retries invoking the function. */
  readonly targetRetry: { readonly maximumRetryAttempts: number; readonly maximumEventAgeInSeconds: number };
  /** Lambda's retries of a failed asynchronous invocation. */
  readonly asyncRetryAttempts: number;
}

/** What invokes a consumer. */
export type ConsumerSource = QueueSource | StreamSource | ScheduleSource | EventRulesSource;

/** One background function. */
export interface Consumer {
  /** Its id: the Lambda's CDK id and the function name the local stack logs under. */
  readonly id: string;
  /**
   * Its handler's module, from the repository root without the extension: a file of
   * functions/handlers/ that exports `consumerHandler` (a `ConsumerHandlerOf`). Its Lambda entry
   * point is generated from this (`consumerEntry`), and the local stack imports it from here.
   */
  readonly handler: string;
  /** One line for the console. */
  readonly description: string;
  readonly needs: ConsumerNeeds;
  readonly source: ConsumerSource;
  readonly timeoutSeconds: number;
  /** @default ServiceFunction's 512 MB */
  readonly memorySize?: number;
  /**
   * Lambda's recursive-loop detection is off ('allow'): only for a function that re-queues onto
   * its own queue and bounds that loop itself. @default terminate
   */
  readonly recursiveLoop?: 'allow';
}

/** How EventBridge retries delivering an event to a rule's target before dead-lettering it. */
export const EVENT_TARGET_RETRY = { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 } as const;

/** The billing function's timeout: claim, one Stripe call per window (10 s timeout each), mark. */
export const BILLING_FUNCTION_TIMEOUT_SECONDS = 30;

/**
 * Receives of a billing message before the dead-letter queue. A window Stripe does not take is
 * redelivered `BILLING_POLICY.queueRetryAttempts` times (then its message is consumed and the
 * billing sweep retries it from the table), so only a message that keeps crashing the function
 * gets here; the usage it names is in the table either way.
 */
export const BILLING_MAX_RECEIVE_COUNT = BILLING_POLICY.queueRetryAttempts + 8;

/** A sweeper's timeout: shorter than its interval, so that runs do not pile up. */
const SWEEPER_TIMEOUT_SECONDS = 50;

/**
 * Every consumer. Adding one: an entry here and its handler module in functions/handlers/
 * (exporting `consumerHandler`); `npm run generate:entries` writes its Lambda entry point, and
 * the local stack runs it from this entry by its source's kind (README: Adding a consumer).
 */
export const CONSUMERS = [
  {
    // The generator never sends to the queue that feeds it (every chunk is queued up front), so
    // Lambda's recursive-loop detection stays on: a chain that loops back to it is a bug.
    id: 'Generator',
    handler: 'functions/handlers/queue/generator',
    description: 'Generates access codes (generation queue) and queues their delivery',
    needs: { table: 'readWrite', stores: ['jobs', 'codes'], sends: ['delivery'] },
    source: {
      kind: 'queue',
      queue: 'generation',
      batchSize: GENERATOR.batchSize,
      maxConcurrency: GENERATOR.maxConcurrency,
      reportBatchItemFailures: true,
      visibilityTimeoutSeconds: GENERATION_VISIBILITY_TIMEOUT_SECONDS,
      maxReceiveCount: MAX_RECEIVE_COUNT,
    },
    timeoutSeconds: GENERATOR.timeoutSeconds,
    memorySize: GENERATOR.memorySize,
  },
  {
    // The deliverer re-queues onto its own queue: a hand-over before its time runs out (a
    // 1000-message job needs ~10), one per long Telegram back-off, and the next job's turn at a
    // chat. Lambda would cut such a chain after ~16 invocations and dead-letter the job halfway,
    // so the loop is allowed here; the hop counter in each delivery message (MAX_DELIVERY_HOPS)
    // fails a job that loops, and an alarm reports any chain Lambda drops. One message per
    // invocation and at most DELIVERER.maxConcurrency invocations: the bot's budget, bounded by
    // construction (see DELIVERER).
    id: 'Deliverer',
    handler: 'functions/handlers/queue/deliverer',
    description: 'Delivers generated access codes over Telegram (delivery queue)',
    // A job's wait for its chat's turn is deleted when the turn comes (chat leases).
    needs: { table: 'readWrite', stores: ['jobs', 'codes', 'chats'], deletes: [keys.chatLease('').pk], sends: ['delivery'], bot: true },
    source: {
      kind: 'queue',
      queue: 'delivery',
      batchSize: DELIVERER.batchSize,
      maxConcurrency: DELIVERER.maxConcurrency,
      reportBatchItemFailures: true,
      visibilityTimeoutSeconds: DELIVERY_VISIBILITY_TIMEOUT_SECONDS,
      maxReceiveCount: MAX_RECEIVE_COUNT,
    },
    timeoutSeconds: DELIVERER.timeoutSeconds,
    memorySize: DELIVERER.memorySize,
    recursiveLoop: 'allow',
  },
  {
    // The handler fails the whole batch on an error, so no partial batch responses; a message
    // that keeps failing stays on the dead-letter queue (14 days, no redrive) and its depth alarm fires.
    id: 'DeadLetter',
    handler: 'functions/handlers/queue/dead-letter',
    description: 'Fails the job of every dead-lettered pipeline message',
    needs: { table: 'readWrite', stores: ['jobs'] },
    source: {
      kind: 'queue',
      queue: 'pipelineDeadLetter',
      batchSize: DEAD_LETTER_CONSUMER.batchSize,
      maxConcurrency: DEAD_LETTER_CONSUMER.maxConcurrency,
      reportBatchItemFailures: false,
      visibilityTimeoutSeconds: DEAD_LETTER_CONSUMER.timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR,
    },
    timeoutSeconds: DEAD_LETTER_CONSUMER.timeoutSeconds,
  },
  {
    id: 'Sweeper',
    handler: 'functions/handlers/schedule/job-sweeper',
    description: 'The job sweeper: re-queues stalled generation jobs and fails hopeless ones (every minute)',
    needs: { table: 'readWrite', stores: ['jobs', 'chats'], sends: ['generation', 'delivery'] },
    source: { kind: 'schedule', everySeconds: SWEEP_INTERVAL_SECONDS, description: 'Runs the job sweeper' },
    timeoutSeconds: SWEEPER_TIMEOUT_SECONDS,
  },
  {
    // Bounded retries, so that one poisoned record cannot hold its shard until the stream drops
    // it (24 h); what is given up on is recorded on the relay dead-letter queue, alarmed on, and
    // can be republished from the outbox item, which the table keeps for 7 days. Only new outbox
    // items invoke the relay, not every write to the table.
    id: 'OutboxRelay',
    handler: 'functions/handlers/stream/outbox-relay',
    description: 'Publishes the outbox items of the table stream to the event bus',
    needs: { eventBus: true },
    source: { kind: 'stream', filter: { eventNames: ['INSERT'], newImage: { type: OUTBOX_ITEM_TYPE } }, batchSize: 100, retryAttempts: RELAY_RETRY_ATTEMPTS },
    timeoutSeconds: 30,
  },
  {
    // Billing records that became `queued` (the redemption's INSERT, or a requeue's MODIFY),
    // gathered for a second into fewer, larger meter events, aggregated per customer.
    id: 'BillingForwarder',
    handler: 'functions/handlers/stream/billing-forwarder',
    description: 'Forwards queued billing records of the table stream to the billing FIFO queue, one message per customer and batch',
    needs: { sends: ['billing'] },
    source: {
      kind: 'stream',
      filter: { eventNames: ['INSERT', 'MODIFY'], newImage: { type: 'billing_record', state: 'queued' } },
      batchSize: 100,
      maxBatchingWindowSeconds: 1,
      retryAttempts: 10,
    },
    timeoutSeconds: 30,
  },
  {
    // One message per invocation: a failure holds back only its own customer's group. The only
    // function that may read the Stripe key. The queue's visibility is above the function's
    // timeout; the handler sets each retry's delay itself.
    id: 'Billing',
    handler: 'functions/handlers/queue/billing',
    description: 'Claims billed redemptions into billing windows and sends each as one Stripe meter event',
    needs: { table: 'readWrite', stores: ['billing'], stripe: true },
    source: {
      kind: 'queue',
      queue: 'billing',
      batchSize: 1,
      reportBatchItemFailures: true,
      visibilityTimeoutSeconds: 60,
      maxReceiveCount: BILLING_MAX_RECEIVE_COUNT,
    },
    timeoutSeconds: BILLING_FUNCTION_TIMEOUT_SECONDS,
  },
  {
    id: 'BillingSweeper',
    handler: 'functions/handlers/schedule/billing-sweeper',
    description: 'The billing sweeper: queues due billing windows and what the stream path left behind (every minute)',
    needs: { table: 'readWrite', stores: ['billing', 'accounts'], sends: ['billing'] },
    source: { kind: 'schedule', everySeconds: SWEEP_INTERVAL_SECONDS, description: 'Runs the billing sweeper' },
    timeoutSeconds: SWEEPER_TIMEOUT_SECONDS,
  },
  {
    // A function of its own on a schedule of its own, so that a backlog of expiring codes never
    // delays the recovery of stalled jobs. A run works until 10 s before its timeout: 70 s is a
    // full minute of work a minute (a run overlaps the next by its last page at most; overlaps
    // are safe, each code once).
    id: 'ExpirySweeper',
    handler: 'functions/handlers/schedule/expiry-sweeper',
    description: 'The expiry sweeper: expires codes past expires_at, one access_code.expired event each, and finishes batch expiry changes (every minute)',
    needs: { table: 'expirySweep', stores: ['expiry'] },
    source: { kind: 'schedule', everySeconds: SWEEP_INTERVAL_SECONDS, description: 'Runs the expiry sweeper' },
    timeoutSeconds: 70,
  },
  {
    // EventBridge invokes asynchronously: its retry policy covers the invoke, Lambda's async
    // retries the function's errors (dispatch is idempotent).
    id: 'WebhookDispatch',
    handler: 'functions/handlers/events/webhook-dispatch',
    description: 'Records and queues the webhook deliveries of each access_code.* event (EventBridge rules)',
    needs: { table: 'readWrite', stores: [], sends: ['webhookDelivery'], webhooks: true },
    source: { kind: 'eventRules', targetRetry: EVENT_TARGET_RETRY, asyncRetryAttempts: 2 },
    timeoutSeconds: WEBHOOK_DISPATCH.timeoutSeconds,
  },
  {
    // The deliverer puts a message back onto its own queue (a retry within 15 minutes, a
    // delivery over its endpoint's in-flight cap), which Lambda's recursive-loop detection would
    // cut after ~16 hops: allowed here, bounded by the retry schedule.
    id: 'WebhookDelivery',
    handler: 'functions/handlers/queue/webhook-delivery',
    description: 'Makes signed webhook delivery attempts (webhook delivery queue)',
    needs: { table: 'readWrite', stores: [], sends: ['webhookDelivery'], webhooks: true },
    source: {
      kind: 'queue',
      queue: 'webhookDelivery',
      batchSize: WEBHOOK_DELIVERY.batchSize,
      maxConcurrency: WEBHOOK_DELIVERY.maxConcurrency,
      reportBatchItemFailures: true,
      visibilityTimeoutSeconds: WEBHOOK_DELIVERY_VISIBILITY_TIMEOUT_SECONDS,
      maxReceiveCount: WEBHOOK_DELIVERY.maxReceiveCount,
    },
    timeoutSeconds: WEBHOOK_DELIVERY.timeoutSeconds,
    memorySize: WEBHOOK_DELIVERY.memorySize,
    recursiveLoop: 'allow',
  },
  {
    id: 'WebhookSweeper',
    handler: 'functions/handlers/schedule/webhook-sweeper',
    description: 'Queues every pending webhook delivery past its due time (every minute)',
    needs: { table: 'read', stores: [], sends: ['webhookDelivery'], webhooks: true },
    source: { kind: 'schedule', everySeconds: SWEEP_INTERVAL_SECONDS, description: 'Runs the webhook delivery sweeper' },
    timeoutSeconds: SWEEPER_TIMEOUT_SECONDS,
  },
] as const satisfies readonly Consumer[];

/** Where the consumers' Lambda entry points are (the HTTP routes' in its `http/` folder). */
export const CONSUMER_ENTRY_DIR = 'functions/entrypoints';

/** The Lambda entry point of a consumer, generated by lib/consumer-entries.ts: <CONSUMER_ENTRY_DIR>/<its handler's file name>.ts. */
export const consumerEntry = (entry: Pick<Consumer, 'handler'>): string => `${CONSUMER_ENTRY_DIR}/${entry.handler.slice(entry.handler.lastIndexOf('/') + 1)}.ts`;

/** The id of a consumer of the catalog. */
export type ConsumerId = (typeof CONSUMERS)[number]['id'];

/** A need a consumer's function is built from: one of its `needs`, or its queue source's redelivery. */
export type ConsumerPortNeed = keyof ConsumerNeeds | 'queueSource';

/**
 * The needs consumer `entry` is built from, in its catalog order: each need it declares, and
 * `queueSource` when a queue invokes it. What its ports hold (functions/handlers/consumer.ts),
 * what production builds them with (functions/consumer-wiring.ts) and what its entry point
 * imports (lib/consumer-entries.ts) all follow from this.
 */
export const portNeedsOf = (entry: { readonly needs: ConsumerNeeds; readonly source: { readonly kind: string } }): ConsumerPortNeed[] => [
  ...(Object.keys(entry.needs) as (keyof ConsumerNeeds)[]).filter((need) => entry.needs[need] !== undefined),
  ...(entry.source.kind === 'queue' ? (['queueSource'] as const) : []),
];

/** The consumer `id` of the catalog. */
export const consumer = (id: ConsumerId): Consumer => CONSUMERS.find((entry) => entry.id === id)!;

/** The consumer whose source is `queue`, with that source: the queue's own settings are its consumer's. */
export const queueConsumer = (queue: QueueName): Consumer & { readonly source: QueueSource } => {
  const found = CONSUMERS.find((entry) => entry.source.kind === 'queue' && entry.source.queue === queue);
  if (!found) throw new Error(`No consumer reads the ${queue} queue`);
  return found as Consumer & { readonly source: QueueSource };
};
