import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoWebhookStoreOptions } from '../functions/adapters/dynamodb/webhook-store';
import { webhookDeliveryMessage, type WebhookDeliveryMessage } from '../functions/contracts/queue-messages';
import { CONSUMERS, type Consumer, type ConsumerId } from '../functions/contracts/consumers';
import { logger } from '../functions/observability';
import type { Clock, WebhookRetryScheduler, WebhookSender } from '../functions/domain/ports';
import { EndpointGate } from '../functions/use-cases/deliver-webhook';
import { webhookPorts, type WebhookPorts } from '../functions/wiring';
import type { AwsBehaviour } from './aws-behaviour';
import type { InProcessEventBus } from './in-process-bus';
import { InProcessQueue } from './in-process-queue';
import { LOCAL_SETTINGS, startLocalConsumers, type LocalPorts } from './consumers';
import { ConsumerWiring } from './handlers';

/** Settings of the local webhooks. */
export interface LocalWebhookOptions {
  /**
   * Let the SSRF guard through `http:` and loopback or private addresses, so that receivers on
   * 127.0.0.1 work (`WEBHOOK_ALLOW_PRIVATE_URLS=1`). Default false: production's guard.
   */
  allowPrivateUrls?: boolean;
  /**
   * Longest delay a retry waits on the queue (default 900, SQS's cap). A message back before its
   * due time is put back with the remaining delay, so a shorter cap changes nothing but how
   * often it is looked at: tests on a fake clock set 0, and the clock alone paces the retries.
   */
  maxQueueDelaySeconds?: number;
  /** Replaces the HTTP sender (the benchmark, tests). */
  sender?: WebhookSender;
  /** The store's options (tests on a fake clock in the past lengthen the retention). */
  storeOptions?: DynamoWebhookStoreOptions;
  /**
   * How often the overdue-delivery sweep runs (default its catalog rate, as in AWS); it also runs
   * once at start, which re-queues what a stopped stack left due. 0: only `sweep()` runs it.
   */
  sweepIntervalMs?: number;
  /**
   * Records (and shapes like AWS) every table call of the client the webhooks run on: the
   * benchmark reads the writes an attempt costs from it. The client is the stack's, so it sees
   * whatever else the stack does too.
   */
  capacity?: AwsBehaviour;
}

/** The local webhooks' moving parts. */
export interface LocalWebhooks {
  ports: WebhookPorts;
  /** The webhook delivery queue, consumed by the webhook-delivery handler. */
  queue: InProcessQueue<WebhookDeliveryMessage>;
  /** Resolves once the delivery queue has nothing visible and nothing in flight. */
  idle(timeoutMs?: number): Promise<void>;
  /** Runs the overdue-delivery sweeper's handler once, as its schedule does; resolves to how many it queued. */
  sweep(): Promise<number>;
  /** The deliverer's per-endpoint in-flight cap (the whole local deliverer is one environment). */
  gate: EndpointGate;
  /** The consumers of the catalog these run (dispatch, delivery, sweeper). */
  consumers: readonly ConsumerId[];
  /**
   * Stops as SIGTERM stops the stack: no new work, the attempts in flight finish; what waits on
   * the in-process queue (retries not yet due) is lost with it, and the sweep of the next start
   * finds it in the table.
   */
  stop(): Promise<void>;
}

/** The consumers of the local webhooks: those with the `webhooks` need. */
export const isWebhookConsumer = (entry: Consumer): boolean => entry.needs.webhooks === true;

/**
 * Webhooks on the local stack, composed like AWS (lib/constructs/webhooks.ts): the delivery queue
 * in process with the CDK queue's settings, and every webhook consumer of the catalog run by
 * `startLocalConsumers` (the dispatcher the target of every EVENT_RULES rule of the bus, the
 * deliverer on the delivery queue with real HTTP to the receivers, the overdue-delivery sweep on
 * a timer and once at start, which re-queues what a stopped stack left due). Nothing of the
 * schedule lives only in memory: every pending delivery's due time is in the table's due index,
 * so a stack stopped with retries waiting loses none of them.
 */
export const startLocalWebhooks = async (options: {
  db: DynamoDBDocumentClient;
  tableName: string;
  bus: InProcessEventBus;
  clock: Clock;
  webhooks?: LocalWebhookOptions;
  /** The rest of the stack's ports, for a webhook consumer that needs more than the webhook parts. */
  stackPorts?: LocalPorts;
}): Promise<LocalWebhooks> => {
  const settings = options.webhooks ?? {};
  settings.capacity?.install(options.db);
  const queue = new InProcessQueue<WebhookDeliveryMessage>({ queueName: 'webhook-delivery', ...new ConsumerWiring().queue('WebhookDelivery') });
  const scheduler: WebhookRetryScheduler = {
    scheduleRetry: (deliveryId, delaySeconds, target = {}) =>
      queue.send([{ body: webhookDeliveryMessage(deliveryId, target), delaySeconds: Math.min(delaySeconds, settings.maxQueueDelaySeconds ?? 900) }]),
  };
  const ports = webhookPorts({
    db: options.db,
    tableName: options.tableName,
    scheduler,
    allowPrivate: settings.allowPrivateUrls ?? false,
    ...(settings.sender ? { sender: settings.sender } : {}),
    ...(settings.storeOptions ? { storeOptions: settings.storeOptions } : {}),
  });
  const gate = new EndpointGate();
  const stack = options.stackPorts ?? {};
  const sweepEvery = settings.sweepIntervalMs ?? new ConsumerWiring().intervalMs('WebhookSweeper');
  const consumers = await startLocalConsumers({
    consumers: CONSUMERS.filter(isWebhookConsumer),
    ports: {
      ...stack,
      clock: options.clock,
      settings: { ...LOCAL_SETTINGS, ...stack.settings, webhookGate: gate },
      webhooks: ports,
      queues: { ...stack.queues, webhookDelivery: scheduler },
    },
    queues: { webhookDelivery: queue },
    bus: options.bus,
    intervalMs: (id) => (id === 'WebhookSweeper' ? sweepEvery : undefined),
  }).catch(async (error: unknown) => {
    await queue.stop();
    throw error;
  });
  const sweep = async (): Promise<number> => ((await consumers.run('WebhookSweeper')) as { queued: number }).queued;
  if (sweepEvery > 0) void sweep().catch((error: unknown) => logger.error('webhook sweep failed', { error: error as Error }));
  return {
    ports,
    queue,
    gate,
    idle: (timeoutMs) => queue.idle(timeoutMs),
    sweep,
    consumers: consumers.ids,
    stop: async () => {
      await consumers.stop();
      await queue.stop();
    },
  };
};
