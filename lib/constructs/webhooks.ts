import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../functions/contracts/env';
import {
  DEAD_LETTER_RETENTION_DAYS,
  SWEEP_INTERVAL_SECONDS,
  WEBHOOK_DELIVERY,
  WEBHOOK_DELIVERY_VISIBILITY_TIMEOUT_SECONDS,
  WEBHOOK_DISPATCH,
} from '../../functions/contracts/pipeline-settings';
import type { Needs } from '../../functions/operations';
import type { ServiceMonitoring } from '../monitoring';
import type { ServiceFunction } from './service-function';
import type { StatefulResources } from '../stateful-stack';
import { scheduleFunction } from './function-schedule';

/** Timeout of the webhook API functions: one 10 s attempt (test, retry) and its writes, within API Gateway's 30 s. */
export const WEBHOOK_ROUTE_TIMEOUT_SECONDS = 25;

/** Makes a function of the stack (its log settings, registered for the stack's alarms). */
export type NewFunction = (
  id: string,
  props: { entry: string; description: string; timeout?: Duration; memorySize?: number; recursiveLoop?: lambda.RecursiveLoop },
) => ServiceFunction;

/** Properties of Webhooks. */
export interface WebhooksProps {
  readonly stateful: StatefulResources;
  readonly newFunction: NewFunction;
  /** How EventBridge retries invoking the dispatcher before dead-lettering the event. */
  readonly targetRetry: { readonly maximumRetryAttempts: number; readonly maximumEventAgeInSeconds: number };
  /**
   * The stage's removal policy. The delivery queues are retained whatever it says (below); it is
   * kept for the stage's other webhook resources.
   */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Webhooks in AWS: the dispatcher (target of every EVENT_RULES rule) records one delivery per
 * subscribed endpoint and queues it; the delivery queue, a fair queue (each message's group is
 * its endpoint), feeds the deliverer; the sweeper queues, every minute, every pending delivery
 * past its due time (retries longer than SQS's 15-minute delay, and anything a lost message or a
 * dead claimant left behind), from the due index in the table. The SSRF guard runs in production
 * mode (https, public addresses): WEBHOOK_ALLOW_PRIVATE_URLS is never set here.
 */
export class Webhooks extends Construct {
  /** Attempts of deliveries, grouped by endpoint; retries within 15 minutes come back to it with a delay. */
  readonly deliveryQueue: sqs.Queue;
  /** Delivery messages the deliverer failed on MAX receives (the store kept failing). */
  readonly deliveryDeadLetterQueue: sqs.Queue;
  /** Events the dispatcher failed on after Lambda's async retries. */
  readonly dispatchDeadLetterQueue: sqs.Queue;
  readonly dispatcher: ServiceFunction;
  readonly deliverer: ServiceFunction;
  /** Queues the deliveries past their due time, every minute. */
  readonly sweeper: ServiceFunction;
  private readonly targetRetry: WebhooksProps['targetRetry'];
  private readonly stateful: StatefulResources;

  constructor(scope: Construct, id: string, props: WebhooksProps) {
    super(scope, id);
    const { stateful } = props;
    this.stateful = stateful;
    this.targetRetry = props.targetRetry;
    // Retained in every stage: replacing or deleting this stack leaves the queues and what is on
    // them (dead letters to inspect and redrive). Nothing pending is lost with a replaced queue
    // either: every pending delivery's due time is in the table (the stateful stack), and the
    // sweeper queues it onto the new queue.
    const queueDefaults = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, removalPolicy: RemovalPolicy.RETAIN } as const;
    this.deliveryDeadLetterQueue = new sqs.Queue(this, 'DeliveryDeadLetterQueue', {
      ...queueDefaults,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
    });
    this.deliveryQueue = new sqs.Queue(this, 'DeliveryQueue', {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(WEBHOOK_DELIVERY_VISIBILITY_TIMEOUT_SECONDS),
      deadLetterQueue: { queue: this.deliveryDeadLetterQueue, maxReceiveCount: WEBHOOK_DELIVERY.maxReceiveCount },
    });
    this.dispatchDeadLetterQueue = new sqs.Queue(this, 'DispatchDeadLetterQueue', {
      ...queueDefaults,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
    });
    for (const queue of [this.deliveryDeadLetterQueue, this.dispatchDeadLetterQueue]) {
      Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This is a dead-letter queue.' });
    }

    this.dispatcher = props
      .newFunction('WebhookDispatch', {
        entry: 'functions/entrypoints/webhook-dispatch.ts',
        description: 'Records and queues the webhook deliveries of each access_code.* event (EventBridge rules)',
        timeout: Duration.seconds(WEBHOOK_DISPATCH.timeoutSeconds),
      })
      .useTable(stateful.table, 'readWrite')
      .useQueue(ENV.WEBHOOK_DELIVERY_QUEUE_URL, this.deliveryQueue);
    // EventBridge invokes asynchronously: its retry policy covers the invoke, Lambda's async
    // retries the function's errors, and what still fails lands here (dispatch is idempotent).
    this.dispatcher.function.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new destinations.SqsDestination(this.dispatchDeadLetterQueue),
    });

    // The deliverer puts a message back onto its own queue (a retry within 15 minutes, a
    // delivery over its endpoint's in-flight cap), which Lambda's recursive-loop detection would
    // cut after ~16 hops: allowed here, bounded by the retry schedule.
    this.deliverer = props
      .newFunction('WebhookDelivery', {
        entry: 'functions/entrypoints/webhook-delivery.ts',
        description: 'Makes signed webhook delivery attempts (webhook delivery queue)',
        timeout: Duration.seconds(WEBHOOK_DELIVERY.timeoutSeconds),
        memorySize: WEBHOOK_DELIVERY.memorySize,
        recursiveLoop: lambda.RecursiveLoop.ALLOW,
      })
      .useTable(stateful.table, 'readWrite')
      .useQueue(ENV.WEBHOOK_DELIVERY_QUEUE_URL, this.deliveryQueue);
    this.deliverer.function.addEventSource(
      new SqsEventSource(this.deliveryQueue, {
        batchSize: WEBHOOK_DELIVERY.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: WEBHOOK_DELIVERY.maxConcurrency,
      }),
    );

    const every = Duration.seconds(SWEEP_INTERVAL_SECONDS);
    this.sweeper = props
      .newFunction('WebhookSweeper', {
        entry: 'functions/entrypoints/webhook-sweeper.ts',
        description: 'Queues every pending webhook delivery past its due time (every minute)',
        timeout: Duration.seconds(50),
      })
      .useTable(stateful.table, 'read')
      .useQueue(ENV.WEBHOOK_DELIVERY_QUEUE_URL, this.deliveryQueue);
    // A failed run is not retried: the next one is a minute away and does the same work.
    this.sweeper.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: every });
  }

  /** Runs the sweeper every minute in the service's schedule group (whose errors are alarmed on). */
  scheduleSweep(group: scheduler.IScheduleGroup): scheduler.Schedule {
    return scheduleFunction(this, 'SweepSchedule', {
      function: this.sweeper.function,
      every: Duration.seconds(SWEEP_INTERVAL_SECONDS),
      description: 'Runs the webhook delivery sweeper',
      group,
    });
  }

  /**
   * Grants an API function what its `webhooks` need asks for: sending to the delivery queue for
   * the routes that may write (retry, test make attempts and queue the next); deletes are the
   * route's `deletes` (lib/api-routes.ts). A read-only route (table `read`) gets the queue's URL
   * without the grant: the wiring builds the same webhook parts for every webhook route
   * (WebhookEnv needs the URL), and a read-only use case never sends.
   */
  grantRoute(fn: ServiceFunction, needs: Needs): void {
    if (!needs.webhooks) return;
    if (needs.table === 'read') fn.function.addEnvironment(ENV.WEBHOOK_DELIVERY_QUEUE_URL, this.deliveryQueue.queueUrl);
    else fn.useQueue(ENV.WEBHOOK_DELIVERY_QUEUE_URL, this.deliveryQueue);
  }

  /** Makes the dispatcher a target of each rule, with the retry policy and the event-target DLQ. */
  routeEvents(rules: ReadonlyMap<string, events.Rule>): void {
    for (const [ruleId, rule] of rules) {
      rule.addTarget({
        bind: () => ({
          arn: this.dispatcher.function.functionArn,
          retryPolicy: this.targetRetry,
          deadLetterConfig: { arn: this.stateful.eventTargetDeadLetterQueue.queueArn },
        }),
      });
      this.dispatcher.function.addPermission(`Invoke${ruleId}`, {
        principal: new iam.ServicePrincipal('events.amazonaws.com'),
        sourceArn: rule.ruleArn,
        sourceAccount: Stack.of(this).account,
      });
    }
  }

  /** Alarms: anything on either dead-letter queue, and a delivery queue that stops draining. */
  addAlarms(monitoring: ServiceMonitoring): void {
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
    monitoring.alarm('WebhookDeliveryRecursiveLoopAlarm', this.deliverer.function.metric('RecursiveInvocationsDropped', { period: Duration.minutes(5), statistic: 'Sum' }), {
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
