import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../functions/adapters/dynamodb/table';
import type { StageConfig } from './stage-config';

/**
 * What the stateless stack may use from the stateful one. Queues and the event bus join this
 * interface as they are added, so the stateless stack never reaches into the stack itself.
 */
export interface StatefulResources {
  /** The service's single table (see TABLE_SCHEMA). */
  readonly table: dynamodb.ITableV2;
}

/** Properties of the stateful stack. */
export interface StatefulStackProps extends StackProps {
  /** Settings of the stage being deployed. */
  readonly config: StageConfig;
}

/**
 * Everything that holds data and must outlive a redeployment of the code: the table now, the
 * SQS queues and the EventBridge bus later. Kept apart from the functions and the API so that
 * replacing those can never touch data.
 */
export class StatefulStack extends Stack implements StatefulResources {
  /** The service's single table. */
  readonly table: dynamodb.TableV2;

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

    new CfnOutput(this, 'TableName', { value: this.table.tableName, description: 'The service table' });
  }
}
