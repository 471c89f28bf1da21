import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { TABLE_SCHEMA } from '../../functions/adapters/dynamodb/table';
import { readStageConfig, StageConfigError } from '../../lib/stage-config';
import { StatefulStack } from '../../lib/stateful-stack';
import { CDK_JSON_CONTEXT, TEST_ENV } from './synth';

// The stateful stack has no bundled code, so it is synthesized on its own here: fast, and the
// built-in validation still runs on it (see validation.test.ts for the whole app).
const statefulTemplate = (stage: string): { template: Template; stack: StatefulStack } => {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, stage } });
  const stack = new StatefulStack(app, `MemberPass-${stage}-Stateful`, { env: TEST_ENV, config: readStageConfig(app) });
  return { template: Template.fromStack(stack), stack };
};

describe('table', () => {
  const { template } = statefulTemplate('prod');

  test('has the keys, index and TTL of TABLE_SCHEMA, all strings, on demand', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: TABLE_SCHEMA.indexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
      AttributeDefinitions: Match.arrayEquals(
        ['pk', 'sk', 'gsi1pk', 'gsi1sk'].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      ),
      TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.timeToLiveAttribute, Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  test('streams new images for the outbox relay', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
  });

  test('is encrypted with the AWS-managed key', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
    });
  });
});

describe('data protection by stage', () => {
  test('outside dev: point-in-time recovery, deletion protection, RETAIN, termination protection', () => {
    const { template, stack } = statefulTemplate('prod');
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        Replicas: [
          Match.objectLike({
            Region: TEST_ENV.region,
            DeletionProtectionEnabled: true,
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          }),
        ],
      },
    });
    expect(stack.terminationProtection).toBe(true);
  });

  test('in dev: point-in-time recovery, but the table can be torn down', () => {
    const { template } = statefulTemplate('dev');
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Delete',
      Properties: {
        Replicas: [
          Match.objectLike({
            DeletionProtectionEnabled: false,
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          }),
        ],
      },
    });
  });
});

describe('stage config', () => {
  const config = (context: Record<string, unknown>) => readStageConfig(new App({ context }));

  test('defaults to dev, INFO and no alarm topic', () => {
    expect(config({})).toMatchObject({ stage: 'dev', protectData: false, logLevel: 'INFO', alarmTopicArn: undefined });
  });

  test('rejects a stage name that cannot be part of a stack name', () => {
    expect(() => config({ stage: 'Prod_1' })).toThrow(StageConfigError);
  });

  test('rejects an unknown log level and a malformed topic ARN', () => {
    expect(() => config({ logLevel: 'chatty' })).toThrow(/logLevel/);
    expect(() => config({ alarmTopicArn: 'my-topic' })).toThrow(/alarmTopicArn/);
  });
});
