import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { EVENT_SOURCE } from '../../functions/contracts/events';
import { DELIVERER, DELIVERY_SAFETY_MARGIN_MS } from '../../functions/contracts/pipeline-settings';
import { TABLE_SCHEMA } from '../../functions/contracts/table';
import { serviceRulePrefix } from '../../lib/constructs/event-consumers';
import { DURATION_NEAR_TIMEOUT } from '../../lib/monitoring';
import { addServiceStacks } from '../../lib/service';
import { STAGES, type StageSettings } from '../../lib/stages';
import { actionsOf, inspect } from './inspect';
import { CDK_JSON_CONTEXT, synthService, type SynthesizedService } from './synth';

// Issue 17: a first deploy of prod that deploys no example value, consumers that receive only
// what they are entitled to, alarms that page only on trouble, and what is retained.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const INTERNAL = '135792468013';
const TENANT_BUS = 'arn:aws:events:eu-west-1:975318642086:event-bus/memberpass-events';
/** The committed prod entry with its example values replaced, plus an internal consumer and a tenant. */
const FILLED_IN: StageSettings = {
  ...STAGES.prod!,
  account: '246813579024',
  alarmTopicArn: 'arn:aws:sns:eu-west-1:246813579024:memberpass-prod-alarms',
  telegramBotUsername: 'acme_memberpass_bot',
  customDomain: { domainName: 'api.acme-memberpass.com', certificateArn: 'arn:aws:acm:eu-west-1:246813579024:certificate/5f0c2d7e-1b3a-4c9e-8f21-7a6b5c4d3e2f' },
  internalConsumerAccounts: [INTERNAL],
  tenantEventBuses: [{ id: 'acme', projectIds: ['prj_acme1', 'prj_acme2'], eventBusArn: TENANT_BUS }],
};

let prod: SynthesizedService;
let view: ReturnType<typeof inspect>;
let dev: SynthesizedService;

beforeAll(() => {
  prod = synthService({ stage: 'prod' }, { stages: { ...STAGES, prod: FILLED_IN } });
  view = inspect(prod);
  dev = synthService({ stage: 'dev' });
});

const alarms = () => Object.values(prod.statelessTemplate.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
const templatesText = (service: SynthesizedService) => JSON.stringify([service.statefulTemplate.toJSON(), service.statelessTemplate.toJSON()]);

describe('prod never deploys an example value', () => {
  test('synth of the committed prod stage, as bin/app.ts runs it, refuses and names every example field', () => {
    const app = new App({ context: { ...CDK_JSON_CONTEXT, stage: 'prod', 'aws:cdk:bundling-stacks': [] } });
    expect(() => addServiceStacks(app)).toThrow(
      'still holds example values in account, alarmTopicArn, telegramBotUsername, customDomain.domainName, customDomain.certificateArn:',
    );
  });

  test('filled in, it synthesizes templates with no example account, domain or bot', () => {
    const text = templatesText(prod);
    expect(text).not.toMatch(/(\d)\1{11}|123456789012|\.example\b|example_bot/);
    expect(text).toContain('246813579024');
  });
});

describe('consumers receive only what they are entitled to', () => {
  test('an internal account may manage only rules named after itself, which it created', () => {
    const policies = Object.values(prod.statefulTemplate.findResources('AWS::Events::EventBusPolicy')) as any[];
    expect(policies).toHaveLength(1);
    const statement = policies[0].Properties.Statement;
    expect(statement).toMatchObject({
      Sid: expect.stringContaining(`ConsumerRules${INTERNAL}`),
      Effect: 'Allow',
      Action: expect.arrayContaining(['events:PutRule', 'events:PutTargets', 'events:DeleteRule', 'events:RemoveTargets']),
      Resource: `arn:aws:events:eu-west-1:246813579024:rule/memberpass-prod/${INTERNAL}-*`,
      Condition: { StringEqualsIfExists: { 'events:creatorAccount': INTERNAL } },
    });
    expect(JSON.stringify(statement.Principal)).toContain(INTERNAL);
    // Its rule names can never carry the prefix the dead-letter queue trusts.
    expect(`${INTERNAL}-`.startsWith(serviceRulePrefix('prod'))).toBe(false);
  });

  test("a tenant's events reach its own bus through a rule of the service that matches only its projects", () => {
    const rules = Object.values(prod.statefulTemplate.findResources('AWS::Events::Rule')) as any[];
    expect(rules).toHaveLength(1);
    const rule = rules[0].Properties;
    expect(rule.Name).toBe('memberpass-prod-tenant-acme');
    expect(rule.EventPattern).toEqual({ source: [EVENT_SOURCE], detail: { project_id: ['prj_acme1', 'prj_acme2'] } });
    expect(rule.Targets).toHaveLength(1);
    const [target] = rule.Targets;
    expect(target).toMatchObject({ Arn: TENANT_BUS, RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 } });
    const dlq = view.statefulId('AWS::SQS::Queue', 'EventTargetDeadLetterQueue');
    expect(target.DeadLetterConfig.Arn).toEqual({ 'Fn::GetAtt': [dlq, 'Arn'] });
    // Its role may put events on that bus and nothing else.
    const roleId = target.RoleArn['Fn::GetAtt'][0];
    const statements = (Object.values(prod.statefulTemplate.findResources('AWS::IAM::Policy')) as any[])
      .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements).toEqual([{ Effect: 'Allow', Action: 'events:PutEvents', Resource: TENANT_BUS }]);
    // Its failures page like the service's own rules'.
    expect(alarms().some((a) => a.MetricName === 'FailedInvocations' && JSON.stringify(a.Dimensions).includes('memberpass-prod-tenant-acme'))).toBe(true);
  });

  test("only the service's own rules can dead-letter into its queue: all named with its prefix, which the queue policy requires", () => {
    const names = [prod.statelessTemplate, prod.statefulTemplate].flatMap((t) => Object.values(t.findResources('AWS::Events::Rule')).map((r: any) => r.Properties.Name));
    expect(names).toHaveLength(4);
    for (const name of names) expect(name.startsWith(serviceRulePrefix('prod'))).toBe(true);
    const dlq = view.statefulId('AWS::SQS::Queue', 'EventTargetDeadLetterQueue');
    prod.statefulTemplate.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: dlq }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Condition: {
              ArnLike: { 'aws:SourceArn': 'arn:aws:events:eu-west-1:246813579024:rule/memberpass-prod/memberpass-prod-*' },
              StringEquals: { 'aws:SourceAccount': '246813579024' },
            },
          }),
        ]),
      },
    });
  });
});

describe('what a protected stage retains', () => {
  const policyOf = (service: SynthesizedService, template: 'statefulTemplate' | 'statelessTemplate', type: string) =>
    Object.values(service[template].findResources(type)).map((r: any) => [r.DeletionPolicy, r.UpdateReplacePolicy]);

  test('the event bus and its archive are kept in prod, deleted with dev', () => {
    for (const type of ['AWS::Events::EventBus', 'AWS::Events::Archive']) {
      expect(policyOf(prod, 'statefulTemplate', type)).toEqual([['Retain', 'Retain']]);
      expect(policyOf(dev, 'statefulTemplate', type)).toEqual([['Delete', 'Delete']]);
    }
  });

  test('the webhook queues (pending deliveries, dead letters) are kept in every stage, dev included', () => {
    expect(policyOf(prod, 'statelessTemplate', 'AWS::SQS::Queue')).toEqual(Array(3).fill(['Retain', 'Retain']));
    expect(policyOf(dev, 'statelessTemplate', 'AWS::SQS::Queue')).toEqual(Array(3).fill(['Retain', 'Retain']));
  });
});

describe('alarms that page only on trouble', () => {
  const fnDimensions = (id: string) => JSON.stringify([{ Name: 'FunctionName', Value: { Ref: view.functionOf(id).id } }]);
  const alarmOn = (metricName: string, id: string) => alarms().filter((a) => a.MetricName === metricName && JSON.stringify(a.Dimensions) === fnDimensions(id));

  test("the deliverer's near-timeout alarm fires past its designed run (until 10 s remain), not at 90% of its timeout", () => {
    const [deliverer] = alarmOn('Duration', 'Deliverer');
    const designedRunMs = DELIVERER.timeoutSeconds * 1000 - DELIVERY_SAFETY_MARGIN_MS;
    expect(deliverer!.Threshold).toBe(designedRunMs + DELIVERY_SAFETY_MARGIN_MS / 2);
    expect(deliverer!.Threshold).toBeGreaterThan(designedRunMs);
    expect(deliverer!.AlarmDescription).toMatch(/hands over when 10 s remain/);
    // Every other function keeps the 90% rule.
    const [generator] = alarmOn('Duration', 'Generator');
    expect(generator!.Threshold).toBe(view.functionOf('Generator').resource.Properties.Timeout * 1000 * DURATION_NEAR_TIMEOUT);
  });

  test('the billing forwarder (the revenue path on the stream) has an IteratorAge alarm', () => {
    const [age] = alarmOn('IteratorAge', 'BillingForwarder');
    expect(age).toMatchObject({ Threshold: 5 * 60 * 1000, ComparisonOperator: 'GreaterThanThreshold', Statistic: 'Maximum' });
    expect(age!.AlarmDescription).toMatch(/Stripe meter events/);
  });

  test('the expiry sweeper not being invoked pages, missing data counting as breaching', () => {
    const [notRunning] = alarmOn('Invocations', 'ExpirySweeper');
    expect(notRunning).toMatchObject({ Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching', Period: 300 });
  });

  test('each index of the table has a throttle alarm', () => {
    for (const { indexName } of TABLE_SCHEMA.indexes) {
      const matching = alarms().filter((a) =>
        (a.Metrics ?? []).some(
          (m: any) => m.MetricStat?.Metric.MetricName === 'WriteThrottleEvents' && m.MetricStat.Metric.Dimensions.some((d: any) => d.Name === 'GlobalSecondaryIndexName' && d.Value === indexName),
        ),
      );
      expect([indexName, matching.length]).toEqual([indexName, 1]);
      expect(matching[0]).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    }
  });
});

describe("the README's deploy policy", () => {
  /** The IAM service prefix of each CloudFormation namespace the templates use. */
  const SERVICE_OF: Record<string, string> = {
    ApiGatewayV2: 'apigateway',
    CloudWatch: 'cloudwatch',
    DynamoDB: 'dynamodb',
    Events: 'events',
    EventSchemas: 'schemas',
    IAM: 'iam',
    Lambda: 'lambda',
    Logs: 'logs',
    Scheduler: 'scheduler',
    SecretsManager: 'secretsmanager',
    SQS: 'sqs',
  };
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const policy = JSON.parse(/cat > cfn-execution-policy\.json <<'JSON'\n([\s\S]*?)\n\s*JSON\n/.exec(readme)![1]!) as { Statement: { Effect: string; Action: string | string[] }[] };
  const allowed = policy.Statement.filter((s) => s.Effect === 'Allow').flatMap(actionsOf);
  const allows = (action: string) => allowed.some((a) => a === action || (a.endsWith('*') && action.startsWith(a.slice(0, -1))));

  test('allows a service for every resource type of both templates, and what the templates call on deploy', () => {
    const types = new Set(
      [prod.statefulTemplate, prod.statelessTemplate].flatMap((t) => Object.values(t.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type)),
    );
    for (const type of types) {
      const service = SERVICE_OF[type.split('::')[1]!];
      expect([type, service]).toEqual([type, expect.any(String)]);
      expect([type, allowed.some((a) => a.startsWith(`${service}:`))]).toEqual([type, true]);
    }
    expect(allows('schemas:CreateRegistry')).toBe(true);
    // The stateless stack reads the stateful stack's outputs with Fn::GetStackOutput.
    expect(JSON.stringify(prod.statelessTemplate.toJSON())).toContain('Fn::GetStackOutput');
    expect(allows('cloudformation:DescribeStacks')).toBe(true);
    for (const action of ['iam:CreateRole', 'iam:PassRole', 'iam:PutRolePolicy', 'iam:UpdateRoleDescription', 'acm:DescribeCertificate', 'kms:DescribeKey', 'application-autoscaling:DescribeScalableTargets']) {
      expect([action, allows(action)]).toEqual([action, true]);
    }
  });
});
