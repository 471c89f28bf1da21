import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../functions/contracts/env';
import type { StageConfig } from '../stage-config';
import type { ServiceFunction } from './service-function';

/** Receives of a billing message before the dead-letter queue: with the visibility timeout, over an hour of Stripe outage. */
export const BILLING_MAX_RECEIVE_COUNT = 40;
/** The billing function's timeout; the queue's visibility timeout is a multiple of it (and the retry interval). */
export const BILLING_FUNCTION_TIMEOUT_SECONDS = 20;
/** Time between two receives of a failing billing message (SQS redelivers after the visibility timeout). */
export const BILLING_VISIBILITY_TIMEOUT_SECONDS = 120;

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
      reason: 'A Stripe key is rolled in the Stripe dashboard; the operator puts the new key in the secret and the billing function reads it at its next cold start.',
    });
    const defaults = { fifo: true, encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, removalPolicy: config.removalPolicy } satisfies sqs.QueueProps;
    this.deadLetterQueue = new sqs.Queue(this, 'BillingDeadLetterQueue', { ...defaults, retentionPeriod: Duration.days(14) });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the billing queue\'s dead-letter queue: alarmed on, redriven by an operator once Stripe takes the usage again.',
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
 * filtered to billing records that became `queued` (the redemption's INSERT, or set-tier's
 * re-queue MODIFY), and the billing function on the FIFO queue, one message per invocation,
 * the only function that may read the Stripe key.
 */
export class BillingFunctions extends Construct {
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
    },
  ) {
    super(scope, id);
    const { config, table, resources } = props;
    const forwarder = props
      .newFunction('BillingForwarder', {
        entry: 'functions/entrypoints/billing-forwarder.ts',
        description: 'Forwards queued billing records of the table stream to the billing FIFO queue',
        timeout: Duration.seconds(30),
      })
      .useQueue(ENV.BILLING_QUEUE_URL, resources.queue);
    forwarder.function.addEventSource(
      new DynamoEventSource(table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
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

    const billing = props
      .newFunction('Billing', {
        entry: 'functions/entrypoints/billing.ts',
        description: 'Sends one Stripe meter event per billed redemption',
        timeout: Duration.seconds(BILLING_FUNCTION_TIMEOUT_SECONDS),
      })
      .useTable(table, 'readWrite')
      .useSecret(ENV.STRIPE_SECRET_NAME, resources.stripeSecret);
    billing.function.addEnvironment(ENV.STRIPE_METER_EVENT_NAME, config.stripeMeterEventName);
    billing.function.addEventSource(
      new SqsEventSource(resources.queue, {
        // One message per invocation: a failure holds back only its own customer's group.
        batchSize: 1,
        reportBatchItemFailures: true,
      }),
    );
  }
}
