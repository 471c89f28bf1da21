import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack, Token } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { API_ROUTES } from '../../lib/api-routes';
import { ServiceFunction } from '../../lib/constructs/service-function';
import { DEFAULT_ROUTE_THROTTLE, ROUTE_THROTTLES } from '../../lib/route-throttles';
import { CATALOG } from '../../functions/operations';
import { STAGES } from '../../lib/stages';
import { EVENT_TARGET_RETRY } from '../../functions/contracts/consumers';
import { actionsOf, inspect } from './inspect';
import { CDK_JSON_CONTEXT, synthService, type SynthesizedService } from './synth';

// The production-readiness review (issue 8), item by item, on the committed prod stage and on dev.
let prod: SynthesizedService;
let view: ReturnType<typeof inspect>;
let dev: SynthesizedService;

beforeAll(() => {
  prod = synthService({ stage: 'prod' });
  view = inspect(prod);
  dev = synthService({ stage: 'dev' });
});

const alarms = () => Object.values(prod.statelessTemplate.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
const fnRef = (id: string) => ({ Ref: view.functionOf(id).id });
const dimensionsOf = (id: string) => [{ Name: 'FunctionName', Value: fnRef(id) }];
/** Alarms on one plain metric (not math) with these dimensions. */
const metricAlarms = (namespace: string, metricName: string, dimensions?: unknown) =>
  alarms().filter(
    (a) =>
      a.Namespace === namespace &&
      a.MetricName === metricName &&
      (dimensions === undefined || JSON.stringify(a.Dimensions) === JSON.stringify(dimensions)),
  );
/** Alarms whose metric math reads `metricName`. */
const mathAlarms = (metricName: string) =>
  alarms().filter((a) => (a.Metrics ?? []).some((m: any) => m.MetricStat?.Metric.MetricName === metricName));
const functionIds = () => [...prod.stateless.functions.keys()];

describe('3. environments come from lib/stages.ts', () => {
  test("a protected stage's stacks are pinned to the account and region of its entry, not the caller's profile", () => {
    for (const stack of [prod.stateful, prod.stateless]) {
      expect(stack.account).toBe(STAGES.prod!.account);
      expect(stack.region).toBe(STAGES.prod!.region);
    }
  });

  test('dev without an account stays environment-agnostic', () => {
    expect(Token.isUnresolved(dev.stateless.account)).toBe(true);
    expect(Token.isUnresolved(dev.stateless.region)).toBe(true);
  });

  test('every function of dev starts: the link route gets a bot username there too, and a stage without one does not synthesize', () => {
    const link = API_ROUTES.find((route) => route.telegram === 'username')!;
    const devView = inspect(dev);
    expect(devView.functionOf(link.id).resource.Properties.Environment.Variables.TELEGRAM_BOT_USERNAME).toBe(STAGES.dev!.telegramBotUsername);
    const { telegramBotUsername: _dropped, ...withoutUsername } = STAGES.dev!;
    expect(() => synthService({ stage: 'dev' }, { stages: { ...STAGES, dev: withoutUsername } })).toThrow(/needs the bot's username: set telegramBotUsername/);
  });

  test('every alarm of the protected stage has an action: its topic is required config', () => {
    for (const alarm of alarms()) expect(alarm.AlarmActions).toEqual([STAGES.prod!.alarmTopicArn]);
  });
});

describe('4. alarms that page, and a dashboard', () => {
  test("the relay's stream IteratorAge is alarmed on", () => {
    const age = metricAlarms('AWS/Lambda', 'IteratorAge', dimensionsOf('OutboxRelay'));
    expect(age).toHaveLength(1);
    expect(age[0]).toMatchObject({ Statistic: 'Maximum', Threshold: 300_000, ComparisonOperator: 'GreaterThanThreshold' });
  });

  test.each(['Health', 'Generator', 'OutboxRelay', 'Sweeper', 'DeadLetter', 'TelegramWebhook'])('Throttles of %s raise an alarm on the first one', (id) => {
    const throttles = metricAlarms('AWS/Lambda', 'Throttles', dimensionsOf(id));
    expect(throttles).toHaveLength(1);
    expect(throttles[0]).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  test('the API 4xx rate and p99 latency are alarmed on', () => {
    expect(mathAlarms('4xx')).toHaveLength(1);
    expect(mathAlarms('4xx')[0]!.Metrics).toContainEqual(expect.objectContaining({ Expression: 'IF(requests > 0, 100 * errors / requests, 0)' }));
    const latency = metricAlarms('AWS/ApiGateway', 'Latency');
    expect(latency).toHaveLength(1);
    expect(latency[0]!.ExtendedStatistic).toBe('p99');
  });

  test('function errors are a rate (errors / invocations), not a single error', () => {
    for (const id of functionIds()) {
      expect(metricAlarms('AWS/Lambda', 'Errors', dimensionsOf(id))).toEqual([]);
      const rate = mathAlarms('Errors').filter((a) =>
        a.Metrics.some((m: any) => JSON.stringify(m.MetricStat?.Metric.Dimensions) === JSON.stringify(dimensionsOf(id))),
      );
      expect(rate).toHaveLength(1);
      expect(rate[0]!.Metrics.map((m: any) => m.MetricStat?.Metric.MetricName).filter(Boolean).sort()).toEqual(['Errors', 'Invocations']);
    }
  });

  test('DynamoDB throttles and system errors are alarmed on', () => {
    // The table's own (the indexes' each have one too: safe-deploy.suite.ts).
    const throttles = mathAlarms('WriteThrottleEvents').filter(
      (a) => !a.Metrics.some((m: any) => (m.MetricStat?.Metric.Dimensions ?? []).some((d: any) => d.Name === 'GlobalSecondaryIndexName')),
    );
    expect(throttles).toHaveLength(1);
    expect(throttles[0]!.Metrics.map((m: any) => m.MetricStat?.Metric.MetricName).filter(Boolean).sort()).toEqual([
      'ReadThrottleEvents',
      'WriteThrottleEvents',
    ]);
    const systemErrors = mathAlarms('SystemErrors');
    expect(systemErrors).toHaveLength(1);
    const operations = systemErrors[0]!.Metrics.flatMap((m: any) => m.MetricStat?.Metric.Dimensions ?? []).filter((d: any) => d.Name === 'Operation');
    expect(operations.map((d: any) => d.Value)).toEqual(expect.arrayContaining(['GetItem', 'Query', 'PutItem', 'UpdateItem', 'TransactWriteItems', 'DeleteItem']));
  });

  test('a generator run near its timeout raises an alarm', () => {
    const timeoutMs = view.functionOf('Generator').resource.Properties.Timeout * 1000;
    const duration = metricAlarms('AWS/Lambda', 'Duration', dimensionsOf('Generator'));
    expect(duration).toHaveLength(1);
    expect(duration[0]).toMatchObject({ Statistic: 'Maximum', ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(duration[0]!.Threshold).toBeGreaterThanOrEqual(0.8 * timeoutMs);
    expect(duration[0]!.Threshold).toBeLessThan(timeoutMs);
  });

  test("the scheduler's TargetErrorCount and InvocationDroppedCount of the sweeper's own schedule group are alarmed on", () => {
    const schedule = Object.values(prod.statelessTemplate.findResources('AWS::Scheduler::Schedule'))[0]!;
    const groups = Object.values(prod.statelessTemplate.findResources('AWS::Scheduler::ScheduleGroup'));
    expect(groups).toHaveLength(1);
    const groupName = groups[0]!.Properties.Name;
    expect(schedule.Properties.GroupName).toBe(groupName);
    expect(groupName).not.toBe('default');
    for (const metric of ['TargetErrorCount', 'InvocationDroppedCount']) {
      const found = metricAlarms('AWS/Scheduler', metric, [{ Name: 'ScheduleGroup', Value: groupName }]);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    }
  });

  test('a sweeper that did not run for 5 minutes raises an alarm, missing data breaching', () => {
    const silent = metricAlarms('AWS/Lambda', 'Invocations', dimensionsOf('Sweeper'));
    expect(silent).toHaveLength(1);
    expect(silent[0]).toMatchObject({
      Period: 300,
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  test('one dashboard graphs the golden signals of the API and every function, the queues, the table and the business metrics', () => {
    const dashboards = Object.values(prod.statelessTemplate.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    // The body is a JSON string joined with references; without its escaping it reads as JSON.
    const body = JSON.stringify(dashboards[0]!.Properties.DashboardBody).replace(/\\/g, '');
    for (const metric of ['"Count"', '"4xx"', '"5xx"', '"Latency"', 'Invocations', 'Errors', 'Throttles', 'Duration', 'ConcurrentExecutions']) {
      expect(body).toContain(metric);
    }
    for (const id of functionIds()) expect(body).toContain(`{"Ref":"${view.functionOf(id).id}"}`);
    for (const metric of ['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage', 'IteratorAge', 'ConsumedWriteCapacityUnits', 'WriteThrottleEvents']) {
      expect(body).toContain(metric);
    }
    for (const metric of ['jobsQueued', 'jobsCompleted', 'jobsFailed', 'codesGenerated', 'messagesDelivered', 'telegram429']) {
      expect(body).toContain(`"MemberPass","${metric}","service","memberpass-access-codes"`);
    }
  });

  test('every function emits its business metrics into the MemberPass namespace', () => {
    for (const id of functionIds()) {
      expect(view.functionOf(id).resource.Properties.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE).toBe('MemberPass');
    }
  });
});

describe('5. event rule targets', () => {
  const rules = () => prod.statelessTemplate.findResources('AWS::Events::Rule');

  test('every rule target retries, then dead-letters to the event target dead-letter queue', () => {
    const dlqId = prod.stateful.getLogicalId(prod.stateful.eventTargetDeadLetterQueue.node.defaultChild as never);
    expect(Object.keys(rules()).length).toBeGreaterThan(0);
    for (const rule of Object.values(rules())) {
      for (const target of rule.Properties.Targets) {
        expect(target.RetryPolicy).toEqual({
          MaximumRetryAttempts: EVENT_TARGET_RETRY.maximumRetryAttempts,
          MaximumEventAgeInSeconds: EVENT_TARGET_RETRY.maximumEventAgeInSeconds,
        });
        expect(view.fromStateful(target.DeadLetterConfig.Arn)).toEqual({ 'Fn::GetAtt': [dlqId, 'Arn'] });
      }
    }
  });

  test('every rule has an alarm on its FailedInvocations, with the dimensions of a custom bus', () => {
    for (const ruleId of Object.keys(rules())) {
      const failed = alarms().filter(
        (a) => a.MetricName === 'FailedInvocations' && a.Dimensions.some((d: any) => d.Name === 'RuleName' && d.Value.Ref === ruleId),
      );
      expect(failed).toHaveLength(1);
      expect(failed[0]!.Dimensions.map((d: any) => d.Name).sort()).toEqual(['EventBusName', 'RuleName']);
    }
  });

  test('a message on the event target dead-letter queue raises an alarm', () => {
    const dlqId = prod.stateful.getLogicalId(prod.stateful.eventTargetDeadLetterQueue.node.defaultChild as never);
    const depth = metricAlarms('AWS/SQS', 'ApproximateNumberOfMessagesVisible').filter(
      (a) => JSON.stringify(view.fromStateful(a.Dimensions[0].Value)) === JSON.stringify({ 'Fn::GetAtt': [dlqId, 'QueueName'] }),
    );
    expect(depth).toHaveLength(1);
  });

});

describe('6. the front door', () => {
  const stage = () => Object.values(prod.statelessTemplate.findResources('AWS::ApiGatewayV2::Stage'))[0]!;

  test('a custom domain from stage config, with its certificate; the execute-api endpoint is then disabled', () => {
    const domain = STAGES.prod!.customDomain!;
    prod.statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: domain.domainName,
      DomainNameConfigurations: [Match.objectLike({ CertificateArn: domain.certificateArn, EndpointType: 'REGIONAL' })],
    });
    prod.statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', { Stage: Match.anyValue() });
    prod.statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
    prod.statelessTemplate.hasOutput('ApiUrl', { Value: `https://${domain.domainName}/` });
    prod.statelessTemplate.hasOutput('ApiDomainTarget', {});
  });

  test('without a custom domain (dev) the execute-api endpoint serves the API', () => {
    dev.statelessTemplate.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    dev.statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: false });
  });

  test('/health, /telegram/webhook, bulk-generate, /redeem and /mcp are throttled apart; other routes get the default', () => {
    const { RouteSettings, DefaultRouteSettings } = stage().Properties;
    expect(RouteSettings).toEqual({
      'GET /health': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
      'POST /mcp': { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
      'POST /telegram/webhook': { ThrottlingRateLimit: 40, ThrottlingBurstLimit: 80 },
      'POST /v1/access-codes/bulk-generate': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
      'POST /v1/access-codes/redeem': { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
    expect(DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: DEFAULT_ROUTE_THROTTLE.rateLimit,
      ThrottlingBurstLimit: DEFAULT_ROUTE_THROTTLE.burstLimit,
    });
  });

  test('each throttle is its catalog entry\'s, under that entry\'s route key', () => {
    const throttled = CATALOG.filter((entry) => entry.throttle);
    expect(Object.keys(ROUTE_THROTTLES).sort()).toEqual(throttled.map((entry) => `${entry.http.method} ${entry.http.path}`).sort());
    for (const entry of throttled) expect(ROUTE_THROTTLES[`${entry.http.method} ${entry.http.path}`]).toBe(entry.throttle);
  });

  test('route settings exist only for routes of the API, and the stage waits for those routes', () => {
    const routes = prod.statelessTemplate.findResources('AWS::ApiGatewayV2::Route');
    const routeKeys = Object.values(routes).map((r) => r.Properties.RouteKey);
    const throttled = Object.keys(stage().Properties.RouteSettings);
    expect(throttled.sort()).toEqual(Object.keys(ROUTE_THROTTLES).filter((key) => routeKeys.includes(key)).sort());
    const dependsOn: string[] = stage().DependsOn ?? [];
    for (const [id, route] of Object.entries(routes)) {
      if (throttled.includes(route.Properties.RouteKey)) expect(dependsOn).toContain(id);
    }
  });

  test('access logs carry the error message and response type, the integration status, method, path and user agent', () => {
    const format = JSON.parse(stage().Properties.AccessLogSettings.Format);
    expect(format).toMatchObject({
      errorMessage: '$context.error.message',
      errorResponseType: '$context.error.responseType',
      integrationStatus: '$context.integration.status',
      method: '$context.httpMethod',
      path: '$context.path',
      userAgent: '$context.identity.userAgent',
    });
  });
});

describe('7. logs and traces', () => {
  test('every function logs JSON at the application level of its stage, and traces actively', () => {
    for (const [service, level] of [
      [prod, STAGES.prod!.logLevel],
      [dev, STAGES.dev!.logLevel],
    ] as const) {
      const functions = Object.values(service.statelessTemplate.findResources('AWS::Lambda::Function'));
      expect(functions.length).toBeGreaterThan(0);
      for (const fn of functions) {
        expect(fn.Properties.LoggingConfig).toMatchObject({ LogFormat: 'JSON', ApplicationLogLevel: level, SystemLogLevel: 'INFO' });
        expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      }
    }
    expect(STAGES.prod!.logLevel).not.toBe(STAGES.dev!.logLevel);
  });
});

describe('9. small ones', () => {
  test('a function may DeleteItem only where it must, each scoped to its partitions by dynamodb:LeadingKeys; none batch-writes', () => {
    const scoped = (id: string) =>
      view
        .statementsOf(id)
        .filter((s) => actionsOf(s).includes('dynamodb:DeleteItem'))
        .map((s) => {
          // Never on the whole table: every DeleteItem statement carries the leading-key condition.
          expect(actionsOf(s)).toEqual(['dynamodb:DeleteItem']);
          return (s.Condition as any)?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];
        });
    const expected: Record<string, unknown[]> = {
      Deliverer: [['CHAT#*']],
      DeleteWebhookEndpoint: [['WHENDPOINT#*']],
      // It serves every tool: the union of theirs.
      Mcp: [['WHENDPOINT#*']],
    };
    for (const id of functionIds()) {
      expect([id, scoped(id)]).toEqual([id, expected[id] ?? []]);
      const actions = view.statementsOf(id).flatMap(actionsOf);
      expect(actions).not.toContain('dynamodb:BatchWriteItem');
    }
  });

  test("the generation dead-letter queue hides a message at least 6 times its consumer's timeout", () => {
    const timeout: number = view.functionOf('DeadLetter').resource.Properties.Timeout;
    const dlqId = prod.stateful.getLogicalId(prod.stateful.generationDeadLetterQueue.node.defaultChild as never);
    expect(view.statefulResources[dlqId]!.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
  });

  test('a bundle has the same asset hash whatever the output folder', () => {
    const keyIn = (outdir: string) => {
      const app = new App({ outdir, context: CDK_JSON_CONTEXT });
      const stack = new Stack(app, 'Hash');
      new ServiceFunction(stack, 'Fn', { entry: 'functions/entrypoints/http/health.ts' });
      const template = app.synth().getStackByName('Hash').template;
      return Object.values<any>(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function').Properties.Code.S3Key;
    };
    const parent = mkdtempSync(path.join(tmpdir(), 'asset-hash-'));
    try {
      expect(keyIn(path.join(parent, 'a'))).toBe(keyIn(path.join(parent, 'deeper', 'b')));
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
