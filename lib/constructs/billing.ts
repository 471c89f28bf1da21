import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { queueConsumer } from '../../functions/contracts/consumers';
import { METRIC } from '../../functions/contracts/metrics';
import type { ServiceMonitoring } from '../monitoring';
import type { StageConfig } from '../stage-config';
import { BUSINESS_NAMESPACE, SERVICE_NAME, type ServiceFunction } from './service-function';

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
    // Its visibility and redrive are its consumer's (the Billing entry of the consumer catalog).
    const { source } = queueConsumer('billing');
    this.queue = new sqs.Queue(this, 'BillingQueue', {
      ...defaults,
      // Deduplicated by the redemption id the forwarder sets, not by content.
      contentBasedDeduplication: false,
      // Per message group (one Stripe customer): Stripe takes one meter call per customer at a time.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      visibilityTimeout: Duration.seconds(source.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: source.maxReceiveCount! },
    });
  }
}

/**
 * Alarms on usage not reaching Stripe: tries failing for 15 minutes (a refused key, an outage),
 * windows still failing after 10 minutes at a sweep, any window parked (a payload Stripe
 * refused: `admin billing replay` after the cause is fixed), and a billing sweeper (`sweeper`,
 * the BillingSweeper consumer) that stopped. The billing functions themselves are consumers of
 * the catalog (functions/contracts/consumers.ts: BillingForwarder, Billing, BillingSweeper).
 */
export const addBillingAlarms = (monitoring: ServiceMonitoring, sweeper: ServiceFunction): void => {
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
  monitoring.alarm('BillingSweeperNotRunningAlarm', sweeper.function.metricInvocations({ period: Duration.minutes(5), statistic: 'Sum' }), {
    alarmDescription: 'The billing sweeper has not run for 15 minutes: billing retries and usage left behind by the stream are not being sent. See the schedule and the function.',
    threshold: 1,
    evaluationPeriods: 3,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
};
