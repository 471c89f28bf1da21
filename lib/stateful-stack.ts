import { EventConsumers, serviceRulePrefix } from './constructs/event-consumers';
import { BillingResources } from './constructs/billing';
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../functions/contracts/table';
import { ALL_SERVICE_EVENTS, toCdkEventPattern } from '../functions/contracts/event-rules';
import { queueConsumer } from '../functions/contracts/consumers';
import { DEAD_LETTER_RETENTION_DAYS } from '../functions/contracts/pipeline-settings';
import type { StageConfig } from './stage-config';

/**
 * What the stateless stack may use from the stateful one, so that it never reaches into the
 * stack itself.
 */
export interface StatefulResources {
  /** The service's single table (see TABLE_SCHEMA). */
  readonly table: dynamodb.ITableV2;
  /** Chunks of jobs to generate, for the generator. */
  readonly generationQueue: sqs.IQueue;
  /** Generated jobs to deliver over Telegram (and their hand-overs), for the deliverer. */
  readonly deliveryQueue: sqs.IQueue;
  /** Where both pipeline queues move a message after MAX_RECEIVE_COUNT receives. */
  readonly generationDeadLetterQueue: sqs.IQueue;
  /** Where the outbox relay's event source mapping records stream batches it gave up on. */
  readonly relayDeadLetterQueue: sqs.IQueue;
  /** The service's custom event bus, `memberpass-<stage>`. */
  readonly eventBus: events.IEventBus;
  /** Where EventBridge puts events that a rule could not deliver to its target after its retries. */
  readonly eventTargetDeadLetterQueue: sqs.IQueue;
  /** The Telegram bot token: created empty here, filled by the operator (README). */
  readonly telegramBotToken: secretsmanager.ISecret;
  /** The secret token of Telegram webhook updates, generated here. */
  readonly telegramWebhookSecret: secretsmanager.ISecret;
  /** The key that seals listing cursors (generated here; only the listing function reads it). */
  readonly cursorKey: secretsmanager.ISecret;
  /** The Stripe key's secret and the billing FIFO queue with its dead-letter queue. */
  readonly billing: Pick<BillingResources, 'stripeSecret' | 'queue' | 'deadLetterQueue'>;
}

/** Properties of the stateful stack. */
export interface StatefulStackProps extends StackProps {
  /** Settings of the stage being deployed. */
  readonly config: StageConfig;
}

/**
 * Everything that holds data and must outlive a redeployment of the code: the table, the SQS
 * queues, the EventBridge bus and its archive, and the bot's two secrets.
 * Kept apart from the functions and the API so that replacing those can never touch data.
 */
export class StatefulStack extends Stack implements StatefulResources {
  /** The service's single table. */
  readonly table: dynamodb.TableV2;
  readonly generationQueue: sqs.Queue;
  readonly deliveryQueue: sqs.Queue;
  readonly generationDeadLetterQueue: sqs.Queue;
  readonly relayDeadLetterQueue: sqs.Queue;
  readonly eventTargetDeadLetterQueue: sqs.Queue;
  readonly eventBus: events.EventBus;
  readonly telegramBotToken: secretsmanager.Secret;
  readonly telegramWebhookSecret: secretsmanager.Secret;
  readonly cursorKey: secretsmanager.Secret;
  readonly billing: BillingResources;
  /** The bus policy for internal consumers, the tenants' forwarding rules, the schema registry. */
  readonly eventConsumers: EventConsumers;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    // Termination protection too: deleting the stack would be the one way around the table's own.
    super(scope, id, { terminationProtection: props.config.protectData, ...props });
    const { config } = props;

    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
      globalSecondaryIndexes: TABLE_SCHEMA.indexes.map((index) => ({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
        maxWriteRequestUnits: config.maxWriteRequestUnits,
      })),
      timeToLiveAttribute: TABLE_SCHEMA.timeToLiveAttribute,
      // A write ceiling (table and index): a runaway loop is throttled and alarmed on, not billed.
      billing: dynamodb.Billing.onDemand({ maxWriteRequestUnits: config.maxWriteRequestUnits }),
      // Which keys are hot or throttled, for the table and (below) its index.
      contributorInsightsSpecification: { enabled: true },
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      // The outbox relay reads committed state changes from the stream and publishes them.
      dynamoStream: dynamodb.StreamViewType.NEW_IMAGE,
      // Cheap insurance in every stage; dev data is disposable but restores are worth rehearsing.
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: config.protectData,
      removalPolicy: config.removalPolicy,
    });

    // TableV2 takes an index's Contributor Insights only for other replicas; the primary's here.
    (this.table.node.defaultChild as dynamodb.CfnGlobalTable).addPropertyOverride(
      'Replicas.0.GlobalSecondaryIndexes',
      TABLE_SCHEMA.indexes.map((index) => ({ IndexName: index.indexName, ContributorInsightsSpecification: { Enabled: true } })),
    );

    // Created empty: the token comes from BotFather and never passes through the template or the
    // CLI history of a deploy; the operator puts it in after the first deploy (README). Kept when
    // a protected stage's stack goes, so that the bot's credentials are not lost with it.
    this.telegramBotToken = new secretsmanager.Secret(this, 'TelegramBotToken', {
      secretName: config.telegramBotTokenSecretName,
      description: `Telegram bot token of MemberPass ${config.stage}: put the value with aws secretsmanager put-secret-value`,
      removalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // The L2 construct always generates a value; neither property means an empty secret.
    (this.telegramBotToken.node.defaultChild as secretsmanager.CfnSecret).addPropertyDeletionOverride('GenerateSecretString');
    // Telegram's secret_token alphabet is A-Z, a-z, 0-9, _ and -: letters and digits only.
    this.telegramWebhookSecret = new secretsmanager.Secret(this, 'TelegramWebhookSecret', {
      secretName: config.telegramWebhookSecretName,
      description: `Secret token Telegram sends with the webhook updates of MemberPass ${config.stage}`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: config.removalPolicy,
    });
    this.cursorKey = new secretsmanager.Secret(this, 'CursorKey', {
      description: `Key material of the listing cursors of MemberPass ${config.stage} (functions derive the AES key from it)`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: config.removalPolicy,
    });
    Validations.of(this.cursorKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating it only invalidates the cursors in flight (clients then get 422 and start the listing again); an operator does it with put-secret-value when needed, no rotation Lambda is worth that.',
    });
    this.billing = new BillingResources(this, 'Billing', { config });
    Validations.of(this.telegramBotToken).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A bot token is rotated in BotFather, not by a Lambda: the operator puts the new token in the secret, and the functions re-read it after a TTL and on a 401.',
    });
    Validations.of(this.telegramWebhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating it means calling setWebhook with the new value: done by the operator with `npm run telegram:set-webhook` after put-secret-value (README).',
    });

    // Encrypted with the SQS-owned key: a customer key would add a KMS grant to every producer
    // and consumer and buys nothing here (messages carry ids and counters, never codes).
    const queueDefaults = {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: config.removalPolicy,
    } satisfies sqs.QueueProps;

    // Each queue's visibility and redrive are its consumer's, in the consumer catalog.
    const generation = queueConsumer('generation').source;
    const delivery = queueConsumer('delivery').source;
    this.generationDeadLetterQueue = new sqs.Queue(this, 'GenerationDeadLetterQueue', {
      ...queueDefaults,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
      // It has a consumer (DeadLetter), which gets the same margin as every SQS event source.
      visibilityTimeout: Duration.seconds(queueConsumer('pipelineDeadLetter').source.visibilityTimeoutSeconds),
    });
    this.generationQueue = new sqs.Queue(this, 'GenerationQueue', {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(generation.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.generationDeadLetterQueue, maxReceiveCount: generation.maxReceiveCount! },
    });
    // Its own queue, so that its consumer's concurrency alone bounds what the bot sends; it
    // dead-letters into the same queue as generation, whose one consumer fails the job.
    this.deliveryQueue = new sqs.Queue(this, 'DeliveryQueue', {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(delivery.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.generationDeadLetterQueue, maxReceiveCount: delivery.maxReceiveCount! },
    });

    this.relayDeadLetterQueue = new sqs.Queue(this, 'RelayDeadLetterQueue', {
      ...queueDefaults,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
    });
    Validations.of(this.relayDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is a dead-letter destination itself: the outbox relay's stream event source mapping sends it the batches it gave up on (OnFailure). It is alarmed on, not consumed.",
    });

    this.eventTargetDeadLetterQueue = new sqs.Queue(this, 'EventTargetDeadLetterQueue', {
      ...queueDefaults,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
    });
    Validations.of(this.eventTargetDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: "This queue is a dead-letter destination itself: the event rules' targets send it what they failed to deliver. It is alarmed on, not consumed.",
    });
    // Only the service's own rules of this stage's bus may send to it: rules named with the
    // service prefix, which consumer accounts cannot use (their rules must start with their
    // account id, lib/constructs/event-consumers.ts). A pattern, not the rules' ARNs: those live
    // in the stateless stack, which already depends on this one.
    this.eventTargetDeadLetterQueue.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.eventTargetDeadLetterQueue.queueArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': this.formatArn({ service: 'events', resource: 'rule', resourceName: `memberpass-${config.stage}/${serviceRulePrefix(config.stage)}*` }),
          },
          StringEquals: { 'aws:SourceAccount': this.account },
        },
      }),
    );

    // Kept by a protected stage like the table: consumers' rules and the archive hang on it.
    this.eventBus = new events.EventBus(this, 'EventBus', { eventBusName: `memberpass-${config.stage}` });
    this.eventBus.applyRemovalPolicy(config.removalPolicy);
    // Every event the service publishes, replayable to a new subscriber or after a fault; it is
    // the service's record of what it published, so a protected stage keeps it too.
    const archive = this.eventBus.archive('EventArchive', {
      description: `Every MemberPass event on memberpass-${config.stage}`,
      eventPattern: toCdkEventPattern(ALL_SERVICE_EVENTS) as events.EventPattern,
      retention: config.protectData ? Duration.days(365) : Duration.days(7),
    });
    archive.applyRemovalPolicy(config.removalPolicy);

    this.eventConsumers = new EventConsumers(this, 'EventConsumers', {
      bus: this.eventBus,
      stage: config.stage,
      internalConsumerAccounts: config.internalConsumerAccounts,
      tenantEventBuses: config.tenantEventBuses,
      deadLetterQueue: this.eventTargetDeadLetterQueue,
    });

    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'The service table' });
    new CfnOutput(this, 'GenerationQueueUrl', { value: this.generationQueue.queueUrl, description: 'Pipeline messages' });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName, description: 'The service event bus' });
    // Read by `npm run telegram:set-webhook` from the outputs file of `cdk deploy`.
    new CfnOutput(this, 'TelegramBotTokenSecretArn', {
      value: this.telegramBotToken.secretArn,
      description: 'Put the bot token here: aws secretsmanager put-secret-value --secret-id <this> --secret-string …',
    });
    new CfnOutput(this, 'TelegramWebhookSecretArn', {
      value: this.telegramWebhookSecret.secretArn,
      description: 'The secret token Telegram must send with webhook updates (setWebhook secret_token)',
    });
  }
}
