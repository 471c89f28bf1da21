import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { TABLE_SCHEMA } from '../../functions/contracts/table';
import { readStageConfig, StageConfigError } from '../../lib/stage-config';
import { EVENT_SOURCE } from '../../functions/contracts/events';
import { StatefulStack } from '../../lib/stateful-stack';
import { CDK_JSON_CONTEXT, TEST_ENV } from './synth';

// The stateful stack has no bundled code, so it is synthesized on its own here: fast, and the
// built-in validation still runs on it (see validation.test.ts for the whole app).
const statefulTemplate = (stage: string): { template: Template; stack: StatefulStack } => {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, stage, telegramBotUsername: 'memberpass_test_bot' } });
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

describe('queues', () => {
  const { template, stack } = statefulTemplate('prod');
  const queues = () => template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
  const idOf = (queue: unknown) => stack.getLogicalId((queue as { node: { defaultChild: never } }).node.defaultChild);

  test('the generation queue dead-letters after 5 receives to its dead-letter queue', () => {
    const queue = queues()[idOf(stack.generationQueue)]!;
    expect(queue.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [idOf(stack.generationDeadLetterQueue), 'Arn'] },
      maxReceiveCount: 5,
    });
  });

  test('both dead-letter queues keep messages 14 days, the maximum', () => {
    for (const dlq of [stack.generationDeadLetterQueue, stack.relayDeadLetterQueue]) {
      expect(queues()[idOf(dlq)]!.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    }
  });

  test('every queue is encrypted at rest and refuses requests without TLS', () => {
    const all = Object.entries(queues()).filter(([, r]) => r.Type === 'AWS::SQS::Queue');
    // Generation, delivery, their shared dead-letter queue, the relay's dead-letter queue.
    expect(all).toHaveLength(4);
    for (const [id, queue] of all) {
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  test('outside dev the queues survive a stack deletion', () => {
    for (const queue of Object.values(template.findResources('AWS::SQS::Queue'))) {
      expect(queue.DeletionPolicy).toBe('Retain');
    }
  });
});

describe('event bus', () => {
  const { template } = statefulTemplate('prod');

  test('is the custom bus memberpass-<stage>', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'memberpass-prod' });
  });

  test('archives every service event', () => {
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EventBus'), 'Arn'] },
      EventPattern: { source: [EVENT_SOURCE] },
      RetentionDays: Match.anyValue(),
    });
  });
});

describe('secrets', () => {
  test('the stack creates no secret: the operator does, and the stack only names it', () => {
    const { template, stack } = statefulTemplate('prod');
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(stack.telegramBotToken.secretName).toBe('memberpass/prod/telegram-bot-token');
    expect(stack.telegramWebhookSecret.secretName).toBe('memberpass/prod/telegram-webhook-secret');
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

  test('names the Telegram secrets after the stage unless context names them', () => {
    expect(config({ stage: 'staging', telegramBotUsername: 'memberpass_bot' })).toMatchObject({
      telegramBotTokenSecretName: 'memberpass/staging/telegram-bot-token',
      telegramWebhookSecretName: 'memberpass/staging/telegram-webhook-secret',
      telegramApiRoot: undefined,
    });
    expect(
      config({ telegramBotTokenSecretName: 'shared/bot', telegramWebhookSecretName: 'shared/hook', telegramApiRoot: 'https://tg.example' }),
    ).toMatchObject({ telegramBotTokenSecretName: 'shared/bot', telegramWebhookSecretName: 'shared/hook', telegramApiRoot: 'https://tg.example' });
  });

  test('refuses a bot token where the name of its secret belongs, without echoing it', () => {
    const token = '123456789:AAExampleExampleExampleExampleExample';
    expect(() => config({ telegramBotTokenSecretName: token })).toThrow(/telegramBotTokenSecretName/);
    expect(() => config({ telegramBotTokenSecretName: token })).not.toThrow(new RegExp(token));
    expect(() => config({ telegramWebhookSecretName: 'has spaces' })).toThrow(/telegramWebhookSecretName/);
  });

  test('outside dev, requires the bot username for deep links; takes it with or without @', () => {
    expect(() => config({ stage: 'prod' })).toThrow(/telegramBotUsername/);
    expect(config({ stage: 'prod', telegramBotUsername: '@memberpass_bot' }).telegramBotUsername).toBe('memberpass_bot');
    expect(config({}).telegramBotUsername).toBeUndefined();
    expect(() => config({ telegramBotUsername: 'no spaces please' })).toThrow(/telegramBotUsername/);
  });

  test('rejects a Telegram API root that is not a URL', () => {
    expect(() => config({ telegramApiRoot: 'api.telegram.org' })).toThrow(/telegramApiRoot/);
  });

  test('rejects an unknown log level and a malformed topic ARN', () => {
    expect(() => config({ logLevel: 'chatty' })).toThrow(/logLevel/);
    expect(() => config({ alarmTopicArn: 'my-topic' })).toThrow(/alarmTopicArn/);
  });
});
