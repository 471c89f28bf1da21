import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../functions/contracts/table';
import { ALL_SERVICE_EVENTS, toCdkEventPattern } from '../functions/contracts/event-rules';
import {
  DEAD_LETTER_RETENTION_DAYS,
  DELIVERY_VISIBILITY_TIMEOUT_SECONDS,
  GENERATION_VISIBILITY_TIMEOUT_SECONDS,
  MAX_RECEIVE_COUNT,
} from '../functions/contracts/pipeline-settings';
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
  /** The Telegram bot token, created by the operator (see bin/app.ts). */
  readonly telegramBotToken: secretsmanager.ISecret;
  /** The secret token of Telegram webhook updates, created by the operator. */
  readonly telegramWebhookSecret: secretsmanager.ISecret;
}

/** Properties of the stateful stack. */
export interface StatefulStackProps extends StackProps {
  /** Settings of the stage being deployed. */
  readonly config: StageConfig;
}

/**
 * Everything that holds data and must outlive a redeployment of the code: the table, the SQS
 * queues, the EventBridge bus and its archive, and the references to the operator's secrets.
 * Kept apart from the functions and the API so that replacing those can never touch data.
 */
export class StatefulStack extends Stack implements StatefulResources {
  /** The service's single table. */
  readonly table: dynamodb.TableV2;
  readonly generationQueue: sqs.Queue;
  readonly deliveryQueue: sqs.Queue;
  readonly generationDeadLetterQueue: sqs.Queue;
  readonly relayDeadLetterQueue: sqs.Queue;
  readonly eventBus: events.EventBus;
  readonly telegramBotToken: secretsmanager.ISecret;
  readonly telegramWebhookSecret: secretsmanager.ISecret;

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
      })),
      timeToLiveAttribute: TABLE_SCHEMA.timeToLiveAttribute,
      billing: dynamodb.Billing.onDemand(),
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      // The outbox relay reads committed state changes from the stream and publishes them.
      dynamoStream: dynamodb.StreamViewType.NEW_IMAGE,
      // Cheap insurance in every stage; dev data is disposable but restores are worth rehearsing.
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: config.protectData,
      removalPolicy: config.removalPolicy,
    });

    // Both secrets are created by the operator before the first deploy (README): a secret
    // created here would need its value in the template or a later manual step anyway, and
    // deleting the stack must not take the bot's credentials with it.
    this.telegramBotToken = secretsmanager.Secret.fromSecretNameV2(this, 'TelegramBotToken', config.telegramBotTokenSecretName);
    this.telegramWebhookSecret = secretsmanager.Secret.fromSecretNameV2(
      this,
      'TelegramWebhookSecret',
      config.telegramWebhookSecretName,
    );

    // Encrypted with the SQS-owned key: a customer key would add a KMS grant to every producer
    // and consumer and buys nothing here (messages carry ids and counters, never codes).
    const queueDefaults = {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: config.removalPolicy,
    } satisfies sqs.QueueProps;

    this.generationDeadLetterQueue = new sqs.Queue(this, 'GenerationDeadLetterQueue', {
      ...queueDefaults,
      retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
    });
    this.generationQueue = new sqs.Queue(this, 'GenerationQueue', {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(GENERATION_VISIBILITY_TIMEOUT_SECONDS),
      deadLetterQueue: { queue: this.generationDeadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    // Its own queue, so that its consumer's concurrency alone bounds what the bot sends; it
    // dead-letters into the same queue as generation, whose one consumer fails the job.
    this.deliveryQueue = new sqs.Queue(this, 'DeliveryQueue', {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(DELIVERY_VISIBILITY_TIMEOUT_SECONDS),
      deadLetterQueue: { queue: this.generationDeadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
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

    this.eventBus = new events.EventBus(this, 'EventBus', { eventBusName: `memberpass-${config.stage}` });
    // Every event the service publishes, replayable to a new subscriber or after a fault.
    this.eventBus.archive('EventArchive', {
      description: `Every MemberPass event on memberpass-${config.stage}`,
      eventPattern: toCdkEventPattern(ALL_SERVICE_EVENTS) as events.EventPattern,
      retention: config.protectData ? Duration.days(365) : Duration.days(7),
    });

    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'The service table' });
    new CfnOutput(this, 'GenerationQueueUrl', { value: this.generationQueue.queueUrl, description: 'Pipeline messages' });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName, description: 'The service event bus' });
  }
}
