import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../functions/contracts/env';
import { METRIC } from '../../functions/contracts/metrics';
import { BILLING_POLICY } from '../../functions/contracts/billing-policy';
import type { ServiceMonitoring } from '../monitoring';
import type { StageConfig } from '../stage-config';
import { scheduleFunction } from './function-schedule';
import { BUSINESS_NAMESPACE, SERVICE_NAME, type ServiceFunction } from './service-function';

/**
 * Receives of a billing message before the dead-letter queue. A window Stripe does not take is
 * redelivered `BILLING_POLICY.queueRetryAttempts` times (then its message is consumed and the
 * billing sweep retries it from the table), so only a message that keeps crashing the function
 * gets here; the usage it names is in the table either way.
 */
export const BILLING_MAX_RECEIVE_COUNT = BILLING_POLICY.queueRetryAttempts + 8;
/** The billing function's timeout: claim, one Stripe call per window (10 s timeout each), mark. */
export const BILLING_FUNCTION_TIMEOUT_SECONDS = 30;
/** Visibility of a received billing message: above the function's timeout (the handler sets the retry delay itself). */
export const BILLING_VISIBILITY_TIMEOUT_SECONDS = 60;

/**
 * The stateful half of billing (in the stateful stack): the Stripe key's secret, created EMPTY
 * and retained on a protected stage like the bot token (the operator puts the key in, README),
 * and the billing FIFO queue with its FIFO dead-letter queue.
 */
export class BillingResources extends Construct {
  readonly stripeSecret: secretsmanager.Secret;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: { config: StageConfig }) {
    super(scope, id);
    const { config } = props;
    this.stripeSecret = new secretsmanager.Secret(this, 'StripeSecretKey', {
      secretName: config.stripeSecretName,
      description: `Stripe secret (or restricted) key of MemberPass ${config.stage} billing: put the value with aws secretsmanager put-secret-value`,
      removalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // The L2 construct always generates a value; an empty secret has neither property.
    (this.stripeSecret.node.defaultChild as secretsmanager.CfnSecret).addPropertyDeletionOverride('GenerateSecretString');
    Validations.of(this.stripeSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'A Stripe key is rolled in the Stripe dashboard; the operator puts the new key in the secret and the billing function reads it within 5 minutes (at once on a 401/403), without a redeploy.',
    });
    const defaults = { fifo: true, encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, removalPolicy: config.removalPolicy } satisfies sqs.QueueProps;
    this.deadLetterQueue = new sqs.Queue(this, 'BillingDeadLetterQueue', { ...defaults, retentionPeriod: Duration.days(14) });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the billing queue\'s dead-letter queue: alarmed on; the usage its messages name stays in the table, where the billing sweep finds it.',
    });
    this.queue = new sqs.Queue(this, 'BillingQueue', {
      ...defaults,
      // Deduplicated by the redemption id the forwarder sets, not by content.
      contentBasedDeduplication: false,
      // Per message group (one Stripe customer): Stripe takes one meter call per customer at a time.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      visibilityTimeout: Duration.seconds(BILLING_VISIBILITY_TIMEOUT_SECONDS),
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: BILLING_MAX_RECEIVE_COUNT },
    });
  }
}

/**
 * The stateless half (in the stateless stack): the billing forwarder on the table's stream,
 * filtered to billing records that became `queued` (the redemption's INSERT, or a requeue's
 * MODIFY), aggregating each batch per customer; the billing function on the FIFO queue, one
 * message per invocation, the only function that may read the Stripe key; and the billing
 * sweeper every minute, which queues the windows whose retry is due and whatever the stream
 * path left behind, from the table's sparse billing due index (gsi3).
 */
export class BillingFunctions extends Construct {
  readonly forwarder: ServiceFunction;
  readonly billing: ServiceFunction;
  readonly sweeper: ServiceFunction;

  constructor(
    scope: Construct,
    id: string,
    props: {
      config: StageConfig;
      table: dynamodb.ITableV2;
      resources: Pick<BillingResources, 'stripeSecret' | 'queue'>;
      /** Failed stream batches go here (the outbox relay's dead-letter queue: same alarm). */
      streamDeadLetterQueue: sqs.IQueue;
      newFunction: (id: string, props: { entry: string; description: string; timeout?: Duration }) => ServiceFunction;
      /** How often the billing sweeper runs, and the schedule group it runs in. */
      every: Duration;
      group: scheduler.IScheduleGroup;
    },
  ) {
    super(scope, id);
    const { config, table, resources } = props;
    this.forwarder = props
      .newFunction('BillingForwarder', {
        entry: 'functions/entrypoints/billing-forwarder.ts',
        description: 'Forwards queued billing records of the table stream to the billing FIFO queue, one message per customer and batch',
        timeout: Duration.seconds(30),
      })
      .useQueue(ENV.BILLING_QUEUE_URL, resources.queue);
    this.forwarder.function.addEventSource(
      new DynamoEventSource(table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        // Gathers a burst into fewer, larger meter events.
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: 10,
        onFailure: new SqsDlq(props.streamDeadLetterQueue),
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.or('INSERT', 'MODIFY'),
            dynamodb: { NewImage: { type: { S: lambda.FilterRule.isEqual('billing_record') }, state: { S: lambda.FilterRule.isEqual('queued') } } },
          }),
        ],
      }),
    );

    this.billing = props
      .newFunction('Billing', {
        entry: 'functions/entrypoints/billing.ts',
        description: 'Claims billed redemptions into billing windows and sends each as one Stripe meter event',
        timeout: Duration.seconds(BILLING_FUNCTION_TIMEOUT_SECONDS),
      })
      .useTable(table, 'readWrite')
      .useSecret(ENV.STRIPE_SECRET_NAME, resources.stripeSecret);
    this.billing.function.addEnvironment(ENV.STRIPE_METER_EVENT_NAME, config.stripeMeterEventName);
    this.billing.function.addEventSource(
      new SqsEventSource(resources.queue, {
        // One message per invocation: a failure holds back only its own customer's group.
        batchSize: 1,
        reportBatchItemFailures: true,
      }),
    );

    this.sweeper = props
      .newFunction('BillingSweeper', {
        entry: 'functions/entrypoints/billing-sweeper.ts',
        description: 'The billing sweeper: queues due billing windows and what the stream path left behind (every minute)',
        timeout: Duration.seconds(50),
      })
      .useTable(table, 'readWrite')
      .useQueue(ENV.BILLING_QUEUE_URL, resources.queue);
    // A failed run is not retried: the next one is an interval away and does the same work.
    this.sweeper.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: props.every });
    scheduleFunction(this, 'BillingSweepSchedule', { function: this.sweeper.function, every: props.every, description: 'Runs the billing sweeper', group: props.group });
  }

  /**
   * Alarms on usage not reaching Stripe: tries failing for 15 minutes (a refused key, an
   * outage), windows still failing after 10 minutes at a sweep, any window parked (a payload
   * Stripe refused: `admin billing replay` after the cause is fixed), and a sweeper that stopped.
   */
  addAlarms(monitoring: ServiceMonitoring): void {
    const metric = (name: string, statistic: string) =>
      new cloudwatch.Metric({ namespace: BUSINESS_NAMESPACE, metricName: name, dimensionsMap: { service: SERVICE_NAME }, statistic, period: Duration.minutes(5) });
    monitoring.alarm('BillingRetriesAlarm', metric(METRIC.billingRetries, 'Sum'), {
      alarmDescription:
        'Stripe has not taken billed usage for 15 minutes (a refused or revoked key, rate limits, an outage). Nothing is lost: it is retried with backoff for 34 days. See the Billing logs and `admin usage` (retrying, last_error); fix the key in its secret if it was refused.',
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    monitoring.alarm('BillingOverdueAlarm', metric(METRIC.billingOverdue, 'Maximum'), {
      alarmDescription: 'Billing windows have been failing for over 10 minutes at the billing sweep: usage is waiting on Stripe. See `admin usage` (retrying_since, last_error).',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    monitoring.alarm('BillingParkedAlarm', metric(METRIC.billingParked, 'Sum'), {
      alarmDescription:
        'Stripe refused billed usage for good (a malformed payload, an unknown customer), or kept failing past 34 days: it is parked. Fix the cause (e.g. the project\'s Stripe customer), then run `admin billing replay`.',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    monitoring.alarm('BillingSweeperNotRunningAlarm', this.sweeper.function.metricInvocations({ period: Duration.minutes(5), statistic: 'Sum' }), {
      alarmDescription: 'The billing sweeper has not run for 15 minutes: billing retries and usage left behind by the stream are not being sent. See the schedule and the function.',
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }
}
