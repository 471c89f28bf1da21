import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoWebhookStoreOptions } from '../functions/adapters/dynamodb/webhook-store';
import { EVENT_RULES } from '../functions/contracts/event-rules';
import { webhookDeliveryMessage, type WebhookDeliveryMessage } from '../functions/contracts/queue-messages';
import { WEBHOOK_DELIVERY, WEBHOOK_DELIVERY_VISIBILITY_TIMEOUT_SECONDS } from '../functions/contracts/pipeline-settings';
import type { Clock } from '../functions/domain/ports';
import type { WebhookRetryScheduler, WebhookSender } from '../functions/domain/webhook-ports';
import { makeHandler as makeWebhookDispatch } from '../functions/handlers/events/webhook-dispatch';
import { makeHandler as makeWebhookDelivery } from '../functions/handlers/queue/webhook-delivery';
import { webhookDeliveryDeps, webhookDispatchDeps, webhookPorts, type WebhookPorts } from '../functions/wiring';
import type { InProcessEventBus } from './in-process-bus';
import { InProcessQueue } from './in-process-queue';
import { localLambdaContext, runInvocation } from './lambda-context';

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
}

/** The local webhooks' moving parts. */
export interface LocalWebhooks {
  ports: WebhookPorts;
  /** The webhook delivery queue, consumed by the webhook-delivery handler. */
  queue: InProcessQueue<WebhookDeliveryMessage>;
  /** Resolves once the delivery queue has nothing visible and nothing in flight. */
  idle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Webhooks on the local stack, composed like AWS (lib/constructs/webhooks.ts): every EVENT_RULES
 * rule of the in-process bus targets the webhook-dispatch handler, which records deliveries and
 * queues them on an in-process delivery queue with the CDK queue's settings, consumed by the
 * webhook-delivery handler with real HTTP to the receivers.
 */
export const startLocalWebhooks = (options: {
  db: DynamoDBDocumentClient;
  tableName: string;
  bus: InProcessEventBus;
  clock: Clock;
  webhooks?: LocalWebhookOptions;
}): LocalWebhooks => {
  const settings = options.webhooks ?? {};
  const queue = new InProcessQueue<WebhookDeliveryMessage>({
    queueName: 'webhook-delivery',
    visibilityTimeoutSeconds: WEBHOOK_DELIVERY_VISIBILITY_TIMEOUT_SECONDS,
    functionTimeoutSeconds: WEBHOOK_DELIVERY.timeoutSeconds,
    maxReceiveCount: WEBHOOK_DELIVERY.maxReceiveCount,
    batchSize: WEBHOOK_DELIVERY.batchSize,
    maxConcurrency: WEBHOOK_DELIVERY.maxConcurrency,
  });
  const scheduler: WebhookRetryScheduler = {
    scheduleRetry: (deliveryId, delaySeconds) =>
      queue.send([{ body: webhookDeliveryMessage(deliveryId), delaySeconds: Math.min(delaySeconds, settings.maxQueueDelaySeconds ?? 900) }]),
  };
  const ports = webhookPorts({
    db: options.db,
    tableName: options.tableName,
    scheduler,
    allowPrivate: settings.allowPrivateUrls ?? false,
    ...(settings.sender ? { sender: settings.sender } : {}),
    ...(settings.storeOptions ? { storeOptions: settings.storeOptions } : {}),
  });
  queue.start(makeWebhookDelivery(webhookDeliveryDeps(ports, options.clock)));
  const dispatch = makeWebhookDispatch(webhookDispatchDeps(ports, options.clock));
  for (const rule of EVENT_RULES) {
    options.bus.subscribe(
      rule.id,
      async (event) => {
        // Invoked as EventBridge invokes the function: its logs carry its own name.
        const context = localLambdaContext({ functionName: 'WebhookDispatch', remainingMs: () => 30_000 });
        return runInvocation(context, () => dispatch(event, context));
      },
      'WebhookDispatch',
    );
  }
  return { ports, queue, idle: (timeoutMs) => queue.idle(timeoutMs), stop: () => queue.stop() };
};
