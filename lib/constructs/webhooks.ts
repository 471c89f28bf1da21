import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { queueConsumer } from '../../functions/contracts/consumers';
import { ENV } from '../../functions/contracts/env';
import { DEAD_LETTER_RETENTION_DAYS } from '../../functions/contracts/pipeline-settings';
import type { ServiceMonitoring } from '../monitoring';
import type { ServiceFunction } from './service-function';

/** Timeout of the webhook API functions: one 10 s attempt (test, retry) and its writes, within API Gateway's 30 s. */
export const WEBHOOK_ROUTE_TIMEOUT_SECONDS = 25;

/**
 * The webhook queues, in the stateless stack: the delivery queue, a fair queue (each message's
 * group is its endpoint) that feeds the webhook deliverer, its dead-letter queue, and the
 * dead-letter queue of the dispatcher's failed invocations. The functions themselves are
 * consumers of the catalog (functions/contracts/consumers.ts: WebhookDispatch on every
 * EVENT_RULES rule, WebhookDelivery on the delivery queue, WebhookSweeper every minute). The SSRF
 * guard runs in production mode (https, public addresses): WEBHOOK_ALLOW_PRIVATE_URLS is never set.
 */
export class Webhooks extends Construct {
  /** Attempts of deliveries, grouped by endpoint; retries within 15 minutes come back to it with a delay. */
  readonly deliveryQueue: sqs.Queue;
  /** Delivery messages the deliverer failed on MAX receives (the store kept failing). */
  readonly deliveryDeadLetterQueue: sqs.Queue;
  /** Events the dispatcher failed on after Lambda's async retries. */
  readonly dispatchDeadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Retained in every stage: replacing or deleting this stack leaves the queues and what is on
    // them (dead letters to inspect and redrive). Nothing pending is lost with a replaced queue
    // either: every pending delivery's due time is in the table (the stateful stack), and the
    // sweeper queues it onto the new queue.
    const queueDefaults = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, removalPolicy: RemovalPolicy.RETAIN } as const;
    this.deliveryDeadLetterQueue = new sqs.Queue(this, 'DeliveryDeadLetterQueue', {
      ...queueDefaults,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
    });
    const { source } = queueConsumer('webhookDelivery');
    this.deliveryQueue = new sqs.Queue(this, 'DeliveryQueue', {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(source.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.deliveryDeadLetterQueue, maxReceiveCount: source.maxReceiveCount! },
    });
    this.dispatchDeadLetterQueue = new sqs.Queue(this, 'DispatchDeadLetterQueue', {
      ...queueDefaults,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
    });
    for (const queue of [this.deliveryDeadLetterQueue, this.dispatchDeadLetterQueue]) {
      Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This is a dead-letter queue.' });
    }
  }

  /**
   * Grants an API function what its `webhookQueue` need asks for: the delivery queue's URL and
   * sending to it (retrying a delivery by hand queues its next attempt when it fails). No other
   * route knows the queue; a route's deletes are its `deletes` (lib/api-routes.ts).
   */
  grantRoute(fn: ServiceFunction): void {
    fn.useQueue(ENV.WEBHOOK_DELIVERY_QUEUE_URL, this.deliveryQueue);
  }

  /** Alarms: anything on either dead-letter queue, a loop Lambda cut through `deliverer` (the WebhookDelivery consumer), and a delivery queue that stops draining. */
  addAlarms(monitoring: ServiceMonitoring, deliverer: ServiceFunction): void {
    const any = { threshold: 1, evaluationPeriods: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD };
    monitoring.alarm('WebhookDeliveryDeadLetterAlarm', this.deliveryDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }), {
      ...any,
      alarmDescription: 'Webhook delivery messages were dead-lettered: the deliverer kept failing on them (see its logs). Their deliveries stay pending; redrive the queue once fixed.',
    });
    monitoring.alarm('WebhookDispatchDeadLetterAlarm', this.dispatchDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }), {
      ...any,
      alarmDescription: 'Events the webhook dispatcher failed on are on its dead-letter queue: their deliveries were not recorded. Replay them from the archive once fixed (dispatch is idempotent).',
    });
    // The deliverer may loop through its own queue (recursiveLoop Allow): should Lambda stop that
    // loop all the same, the dropped message's delivery stays pending, so a drop pages too.
    monitoring.alarm('WebhookDeliveryRecursiveLoopAlarm', deliverer.function.metric('RecursiveInvocationsDropped', { period: Duration.minutes(5), statistic: 'Sum' }), {
      ...any,
      alarmDescription: 'Lambda stopped a recursive loop through the webhook deliverer: a delivery message was dropped and its delivery stays pending. Retry it with POST /v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry.',
    });
    monitoring.alarm('WebhookDeliveryQueueAgeAlarm', this.deliveryQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }), {
      threshold: 30 * 60,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription: 'The oldest webhook delivery message has waited over 30 minutes: the deliverer is failing, throttled or too slow. See its errors and logs.',
    });
  }
}
