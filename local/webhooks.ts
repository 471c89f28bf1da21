import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoWebhookStoreOptions } from '../functions/adapters/dynamodb/webhook-store';
import { EVENT_RULES } from '../functions/contracts/event-rules';
import { webhookDeliveryMessage, type WebhookDeliveryMessage } from '../functions/contracts/queue-messages';
import type { ConsumerId } from '../functions/contracts/consumers';
import { logger } from '../functions/observability';
import type { Clock, WebhookRetryScheduler, WebhookSender } from '../functions/domain/ports';
import { makeHandler as makeWebhookDispatch } from '../functions/handlers/events/webhook-dispatch';
import { makeHandler as makeWebhookDelivery } from '../functions/handlers/queue/webhook-delivery';
import { makeHandler as makeWebhookSweeper } from '../functions/handlers/schedule/webhook-sweeper';
import { EndpointGate } from '../functions/use-cases/deliver-webhook';
import { webhookDeliveryDeps, webhookDispatchDeps, webhookPorts, type WebhookPorts } from '../functions/wiring';
import type { AwsBehaviour } from './aws-behaviour';
import type { InProcessEventBus } from './in-process-bus';
import { InProcessQueue } from './in-process-queue';
import { ConsumerWiring } from './handlers';
import { runInvocation } from './lambda-context';

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

/**
 * Webhooks on the local stack, composed like AWS (lib/constructs/webhooks.ts): every EVENT_RULES
 * rule of the in-process bus targets the webhook-dispatch handler, which records deliveries and
 * queues them on an in-process delivery queue with the CDK queue's settings, consumed by the
 * webhook-delivery handler with real HTTP to the receivers, and the overdue-delivery sweep on a
 * timer. Nothing of the schedule lives only in memory: every pending delivery's due time is in
 * the table's due index, so a stack stopped with retries waiting loses none of them.
 */
export const startLocalWebhooks = (options: {
  db: DynamoDBDocumentClient;
  tableName: string;
  bus: InProcessEventBus;
  clock: Clock;
  webhooks?: LocalWebhookOptions;
}): LocalWebhooks => {
  const settings = options.webhooks ?? {};
  settings.capacity?.install(options.db);
  const wiring = new ConsumerWiring();
  const queue = new InProcessQueue<WebhookDeliveryMessage>({ queueName: 'webhook-delivery', ...wiring.queue('WebhookDelivery') });
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
  queue.start(makeWebhookDelivery({ ...webhookDeliveryDeps(ports, options.clock), gate }));
  const dispatch = makeWebhookDispatch(webhookDispatchDeps(ports, options.clock));
  // Every rule targets the dispatcher, as its catalog source (eventRules) says.
  if (wiring.entry('WebhookDispatch').source.kind !== 'eventRules') throw new Error('WebhookDispatch is not an event rules consumer');
  for (const rule of EVENT_RULES) {
    options.bus.subscribe(
      rule.id,
      async (event) => {
        // Invoked as EventBridge invokes the function: its logs carry its own name.
        const context = wiring.context('WebhookDispatch');
        return runInvocation(context, () => dispatch(event, context));
      },
      'WebhookDispatch',
    );
  }
  const sweeper = makeWebhookSweeper({ store: ports.deliveries, scheduler, clock: options.clock });
  wiring.entry('WebhookSweeper');
  const sweep = async (): Promise<number> => {
    const context = wiring.context('WebhookSweeper');
    return (await runInvocation(context, () => sweeper(undefined, context))).queued;
  };
  const interval = settings.sweepIntervalMs ?? wiring.intervalMs('WebhookSweeper');
  const runSweep = () => void sweep().catch((error: unknown) => logger.error('webhook sweep failed', { error: error as Error }));
  const timer = interval > 0 ? setInterval(runSweep, interval) : undefined;
  timer?.unref();
  if (interval > 0) runSweep();
  return {
    ports,
    queue,
    gate,
    idle: (timeoutMs) => queue.idle(timeoutMs),
    sweep,
    consumers: wiring.ids,
    stop: async () => {
      clearInterval(timer);
      await queue.stop();
    },
  };
};
