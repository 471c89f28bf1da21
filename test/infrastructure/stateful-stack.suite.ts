import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { TABLE_SCHEMA } from '../../functions/contracts/table';
import { resolveStageConfig, StageConfigError } from '../../lib/stage-config';
import { STAGES, type StageSettings } from '../../lib/stages';
import { EVENT_SOURCE } from '../../functions/contracts/events';
import { StatefulStack } from '../../lib/stateful-stack';
import { DEAD_LETTER_CONSUMER } from '../../functions/contracts/pipeline-settings';
import { CDK_JSON_CONTEXT, synthService, TEST_ENV } from './synth';

// The stateful stack has no bundled code, so it is synthesized on its own here: fast, and the
// built-in validation still runs on it (see validation.suite.ts for the whole app).
const statefulTemplate = (stage: string): { template: Template; stack: StatefulStack } => {
  const app = new App({ context: CDK_JSON_CONTEXT });
  const config = resolveStageConfig(stage, STAGES, { allowExampleValues: true });
  const stack = new StatefulStack(app, `MemberPass-${stage}-Stateful`, { env: config.env ?? TEST_ENV, config });
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
        ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'gsi3pk', 'gsi3sk'].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
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
    // Generation, delivery, their shared dead-letter queue, the relay's and the event targets'
    // dead-letter queues, the billing FIFO queue and its dead-letter queue.
    expect(all).toHaveLength(7);
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
  const { template, stack } = statefulTemplate('prod');
  const secret = (construct: { node: { defaultChild?: unknown } }) =>
    template.toJSON().Resources[stack.getLogicalId(construct.node.defaultChild as never)];

  test('the bot token secret is created empty, under its stage name, and kept when the stack goes', () => {
    const token = secret(stack.telegramBotToken);
    expect(token.Type).toBe('AWS::SecretsManager::Secret');
    expect(token.Properties.Name).toBe('memberpass/prod/telegram-bot-token');
    expect(token.Properties.SecretString).toBeUndefined();
    expect(token.Properties.GenerateSecretString).toBeUndefined();
    expect(token.DeletionPolicy).toBe('Retain');
    expect(token.UpdateReplacePolicy).toBe('Retain');
  });

  test("the webhook secret is generated by CloudFormation in Telegram's secret_token alphabet", () => {
    const webhook = secret(stack.telegramWebhookSecret);
    expect(webhook.Properties.Name).toBe('memberpass/prod/telegram-webhook-secret');
    expect(webhook.Properties.SecretString).toBeUndefined();
    // Without punctuation or spaces: letters and digits, within secret_token's 1-256 of [A-Za-z0-9_-].
    expect(webhook.Properties.GenerateSecretString).toEqual({ PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false });
    expect(webhook.DeletionPolicy).toBe('Retain');
  });

  test('both secrets are outputs, for the operator and the set-webhook script', () => {
    template.hasOutput('TelegramBotTokenSecretArn', { Value: { Ref: stack.getLogicalId(stack.telegramBotToken.node.defaultChild as never) } });
    template.hasOutput('TelegramWebhookSecretArn', {
      Value: { Ref: stack.getLogicalId(stack.telegramWebhookSecret.node.defaultChild as never) },
    });
  });

  test('in dev, the bot token secret goes with its stack, so that dev can be recreated', () => {
    const dev = statefulTemplate('dev');
    expect(dev.template.toJSON().Resources[dev.stack.getLogicalId(dev.stack.telegramBotToken.node.defaultChild as never)].DeletionPolicy).toBe(
      'Delete',
    );
  });
});

describe('table limits and insight', () => {
  const { template } = statefulTemplate('prod');

  test("caps on-demand writes of the table and its index at the stage's maxWriteRequestUnits", () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: STAGES.prod!.maxWriteRequestUnits },
      GlobalSecondaryIndexes: TABLE_SCHEMA.indexes.map(() =>
        Match.objectLike({ WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: STAGES.prod!.maxWriteRequestUnits } }),
      ),
    });
  });

  test('has Contributor Insights on the table and on its index', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [
        Match.objectLike({
          ContributorInsightsSpecification: { Enabled: true },
          GlobalSecondaryIndexes: TABLE_SCHEMA.indexes.map((index) => ({
            IndexName: index.indexName,
            ContributorInsightsSpecification: { Enabled: true },
          })),
        }),
      ],
    });
  });
});

describe('dead-letter queues', () => {
  const { template, stack } = statefulTemplate('prod');
  const properties = (queue: { node: { defaultChild?: unknown } }) =>
    template.toJSON().Resources[stack.getLogicalId(queue.node.defaultChild as never)].Properties;

  test('the generation dead-letter queue hides a message at least 6 times its consumer timeout', () => {
    expect(properties(stack.generationDeadLetterQueue).VisibilityTimeout).toBeGreaterThanOrEqual(6 * DEAD_LETTER_CONSUMER.timeoutSeconds);
  });

  test("only the rules of the stage's bus may send to the event target dead-letter queue", () => {
    const queueId = stack.getLogicalId(stack.eventTargetDeadLetterQueue.node.defaultChild as never);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
            // Only the service's own rules (named memberpass-prod-…), never a consumer's.
            Condition: {
              ArnLike: { 'aws:SourceArn': `arn:aws:events:${TEST_ENV.region}:${TEST_ENV.account}:rule/memberpass-prod/memberpass-prod-*` },
              StringEquals: { 'aws:SourceAccount': TEST_ENV.account },
            },
          },
        ]),
      },
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
  const complete: StageSettings = STAGES.prod!;
  // The shape checks, past the committed entry's example values (refused below).
  const resolve = (settings: Partial<StageSettings> & { protectData: boolean }, stage = 'prod') =>
    resolveStageConfig(stage, { [stage]: settings as StageSettings }, { allowExampleValues: true });
  /** prod with every example value replaced by a plausible real one. */
  const filledIn: StageSettings = {
    ...complete,
    account: '246813579024',
    alarmTopicArn: 'arn:aws:sns:eu-west-1:246813579024:memberpass-prod-alarms',
    telegramBotUsername: 'acme_memberpass_bot',
    customDomain: { domainName: 'api.acme-memberpass.com', certificateArn: 'arn:aws:acm:eu-west-1:246813579024:certificate/5f0c2d7e-1b3a-4c9e-8f21-7a6b5c4d3e2f' },
  };

  test('the committed prod stage holds example values, and a protected stage refuses them, naming every field', () => {
    let message = '';
    try {
      resolveStageConfig('prod');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Stage "prod" protects data, so lib\/stages.ts still holds example values in /);
    expect(message).toContain('account, alarmTopicArn, telegramBotUsername, customDomain.domainName, customDomain.certificateArn:');
    // Consumers too: an example internal account or a tenant bus in an example account.
    expect(() =>
      resolveStageConfig('prod', {
        prod: {
          ...filledIn,
          internalConsumerAccounts: ['135792468013', '222222222222'],
          tenantEventBuses: [{ id: 'acme', projectIds: ['prj_1'], eventBusArn: 'arn:aws:events:eu-west-1:123456789012:event-bus/default' }],
        },
      }),
    ).toThrow(/example values in internalConsumerAccounts\[1\], tenantEventBuses\[0\]\.eventBusArn:/);
    // Missing fields and example values in one message.
    const { alarmTopicArn: _topic, ...withoutTopic } = complete;
    expect(() => resolveStageConfig('prod', { prod: withoutTopic })).toThrow(/must give it alarmTopicArn \(missing\); and it still holds example values in account,/);
  });

  test('the same stage with real values resolves; dev may keep its example bot', () => {
    expect(resolveStageConfig('prod', { prod: filledIn }).env).toEqual({ account: '246813579024', region: 'eu-west-1' });
    expect(resolveStageConfig('dev').telegramBotUsername).toBe(STAGES.dev!.telegramBotUsername);
    expect(() => resolveStageConfig('prod', { prod: { ...filledIn, customDomain: { ...filledIn.customDomain!, domainName: 'api.memberpass.test' } } })).toThrow(
      /example values in customDomain\.domainName:/,
    );
  });

  test('the committed prod stage is protected and pinned to its account, region, topic and bot', () => {
    expect(resolveStageConfig('prod', STAGES, { allowExampleValues: true })).toMatchObject({
      protectData: true,
      env: { account: complete.account, region: complete.region },
      alarmTopicArn: complete.alarmTopicArn,
      telegramBotUsername: complete.telegramBotUsername,
      maxWriteRequestUnits: complete.maxWriteRequestUnits,
    });
  });

  test('dev is unprotected and environment-agnostic', () => {
    expect(resolveStageConfig('dev')).toMatchObject({ stage: 'dev', protectData: false, env: undefined, alarmTopicArn: undefined });
  });

  test('a protected stage missing its config fails, naming every missing field', () => {
    expect(() => resolve({ protectData: true })).toThrow(
      'Stage "prod" protects data, so lib/stages.ts must give it account, region, alarmTopicArn, telegramBotUsername, maxWriteRequestUnits (missing)',
    );
    const { alarmTopicArn: _dropped, ...withoutTopic } = complete;
    expect(() => resolve(withoutTopic)).toThrow(/must give it alarmTopicArn \(missing\)/);
  });

  test('synth of a protected stage without its config fails before building anything', () => {
    const { account: _account, region: _region, ...unpinned } = complete;
    expect(() => synthService({ stage: 'prod' }, { stages: { prod: unpinned } })).toThrow(/must give it account, region/);
  });

  test('protection is the explicit flag, not the stage name', () => {
    expect(resolve({ protectData: false }, 'staging').protectData).toBe(false);
    expect(() => resolve({ protectData: true }, 'dev')).toThrow(StageConfigError);
  });

  test('an unknown stage is refused, naming the known ones', () => {
    expect(() => resolveStageConfig('qa')).toThrow('Unknown stage "qa": lib/stages.ts defines dev, prod');
    expect(() => resolveStageConfig('Prod_1')).toThrow(StageConfigError);
  });

  test('malformed values are refused, naming their fields', () => {
    expect(() => resolve({ ...complete, account: '1234' })).toThrow(/account must be a 12-digit AWS account id/);
    expect(() => resolve({ ...complete, logLevel: 'chatty' as never })).toThrow(/logLevel/);
    expect(() => resolve({ ...complete, alarmTopicArn: 'my-topic' })).toThrow(/alarmTopicArn must be an SNS topic ARN/);
    expect(() => resolve({ ...complete, telegramApiRoot: 'api.telegram.org' })).toThrow(/telegramApiRoot/);
    expect(() => resolve({ ...complete, telegramBotUsername: 'no spaces please' })).toThrow(/telegramBotUsername/);
    expect(() => resolve({ ...complete, maxWriteRequestUnits: 0 })).toThrow(/maxWriteRequestUnits/);
  });

  test('the bot username is taken with or without @', () => {
    expect(resolve({ ...complete, telegramBotUsername: '@memberpass_bot' }).telegramBotUsername).toBe('memberpass_bot');
  });

  test("an alarm topic or certificate outside the stage's region is refused", () => {
    expect(() => resolve({ ...complete, alarmTopicArn: 'arn:aws:sns:us-east-1:111111111111:alarms' })).toThrow(/alarmTopicArn must be in eu-west-1/);
    expect(() =>
      resolve({
        ...complete,
        customDomain: { domainName: 'api.example.com', certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc' },
      }),
    ).toThrow(/certificateArn must be in eu-west-1/);
  });
});
