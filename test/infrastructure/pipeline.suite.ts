import { OUTBOX_ITEM_TYPE } from '../../functions/contracts/outbox';
import { API_ROUTES } from '../../lib/api-routes';
import { EVENT_RULES, matchesPattern, type EventPattern } from '../../functions/contracts/event-rules';
import {
  DELIVERER,
  GENERATOR,
  GROUP_MESSAGES_PER_DELIVERY_INVOCATION,
  MAX_DELIVERY_HOPS,
  MAX_JOB_QUANTITY,
  MAX_RECEIVE_COUNT,
  MESSAGES_PER_DELIVERY_INVOCATION,
  TELEGRAM,
  VISIBILITY_TIMEOUT_FACTOR,
} from '../../functions/contracts/pipeline-settings';
import { STAGES } from '../../lib/stages';
import { actionsOf, inspect, logicalIdOf, type Statement } from './inspect';
import { synthService, TEST_ENV, type SynthesizedService } from './synth';

// The protected stage, without bundling: nothing here reads the bundles (stateless-stack.test.ts
// checks that each function is bundled from its entry point).
const PROD_CONTEXT = { stage: 'prod' };
let service: SynthesizedService;
let view: ReturnType<typeof inspect>;
let ids: { queue: string; deliveryQueue: string; dlq: string; relayDlq: string; bus: string; table: string };

beforeAll(() => {
  service = synthService(PROD_CONTEXT);
  view = inspect(service);
  const stack = service.stateful;
  const idOf = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
  ids = {
    queue: idOf(stack.generationQueue),
    deliveryQueue: idOf(stack.deliveryQueue),
    dlq: idOf(stack.generationDeadLetterQueue),
    relayDlq: idOf(stack.relayDeadLetterQueue),
    bus: idOf(stack.eventBus),
    table: idOf(stack.table),
  };
});

const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const refOf = (logicalId: string) => ({ Ref: logicalId });
const env = (id: string): Record<string, unknown> => view.functionOf(id).resource.Properties.Environment.Variables;
const statementsWith = (id: string, prefix: string): Statement[] =>
  view.statementsOf(id).filter((s) => actionsOf(s).some((action) => action.startsWith(prefix)));
const resourcesOf = (statement: Statement) => [statement.Resource].flat().map((r) => view.fromStateful(r));
/** The one event source mapping of function `id`, with its source resolved. */
const eventSourceOf = (id: string): Record<string, any> => {
  const mappings = view.eventSourcesOf(id);
  expect(mappings).toHaveLength(1);
  const properties = mappings[0]!.Properties;
  return { ...properties, EventSourceArn: view.fromStateful(properties.EventSourceArn) };
};
const ALL_FUNCTION_IDS = () => [...service.stateless.functions.keys()];
/** The stateful stack's secrets, as `{Ref}` to them (a Ref to a secret is its full ARN). */
const BOT_TOKEN_SECRET = () => refOf(service.stateful.getLogicalId(service.stateful.telegramBotToken.node.defaultChild as never));
const WEBHOOK_SECRET = () => refOf(service.stateful.getLogicalId(service.stateful.telegramWebhookSecret.node.defaultChild as never));
const CURSOR_KEY = () => refOf(service.stateful.getLogicalId(service.stateful.cursorKey.node.defaultChild as never));
/** Routes that seal listing cursors with the cursor key (the listing route, and the MCP endpoint that serves it as a tool). */
const CURSOR_ROUTES = API_ROUTES.filter((route) => route.needs.cursorKey).map((route) => route.id);
/** GetSecretValue on exactly one secret. */
const secretStatement = (secret: unknown) => ({ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secret });
/** The secrets a function may read besides the bot's: the cursor key, where its route declares it. */
const otherSecretsOf = (id: string) => (CURSOR_ROUTES.includes(id) ? [CURSOR_KEY()] : []);
/** Routes that call the Bot API and receive its webhook. */
const BOT_ROUTES = API_ROUTES.filter((route) => route.telegram === 'bot').map((route) => route.id);

describe('generator', () => {
  test('consumes the generation queue in batches of 5, reporting failed items, at bounded concurrency', () => {
    const mapping = eventSourceOf('Generator');
    expect(mapping.EventSourceArn).toEqual(arnOf(ids.queue));
    expect(mapping.BatchSize).toBe(5);
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.ScalingConfig).toEqual({ MaximumConcurrency: GENERATOR.maxConcurrency });
    // SQS event sources accept 2..1000.
    expect(mapping.ScalingConfig.MaximumConcurrency).toBeGreaterThanOrEqual(2);
    expect(mapping.ScalingConfig.MaximumConcurrency).toBeLessThanOrEqual(50);
  });

  test('runs up to 120 s with 1024 MB', () => {
    expect(view.functionOf('Generator').resource.Properties).toMatchObject({ Timeout: 120, MemorySize: 1024 });
  });

  test('the queue hides a received message at least 6 times the generator timeout', () => {
    const timeout: number = view.functionOf('Generator').resource.Properties.Timeout;
    const visibility: number = view.statefulResources[ids.queue]!.Properties.VisibilityTimeout;
    expect(VISIBILITY_TIMEOUT_FACTOR).toBeGreaterThanOrEqual(6);
    expect(visibility).toBeGreaterThanOrEqual(6 * timeout);
  });

  test('the queue moves a message to the dead-letter queue after 5 receives', () => {
    expect(view.statefulResources[ids.queue]!.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: arnOf(ids.dlq),
      maxReceiveCount: MAX_RECEIVE_COUNT,
    });
    expect(MAX_RECEIVE_COUNT).toBe(5);
  });

  test('gets the table and the delivery queue, and no secret: it never talks to Telegram', () => {
    const variables = env('Generator');
    expect(view.fromStateful(variables.TABLE_NAME)).toEqual(refOf(ids.table));
    expect(view.fromStateful(variables.DELIVERY_QUEUE_URL)).toEqual(refOf(ids.deliveryQueue));
    expect(variables.QUEUE_URL).toBeUndefined();
    expect(variables.TELEGRAM_BOT_TOKEN_SECRET).toBeUndefined();
    expect(statementsWith('Generator', 'secretsmanager:')).toEqual([]);
  });

  test('consumes the generation queue and sends only to the delivery queue: it does not feed itself', () => {
    const statements = statementsWith('Generator', 'sqs:');
    const send = statements.filter((statement) => actionsOf(statement).includes('sqs:SendMessage'));
    expect(send).toEqual([{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: expect.anything() }]);
    expect(resourcesOf(send[0]!)).toEqual([arnOf(ids.deliveryQueue)]);
    for (const statement of statements.filter((s) => s !== send[0])) {
      expect(resourcesOf(statement)).toEqual([arnOf(ids.queue)]);
      expect(actionsOf(statement)).not.toContain('sqs:SendMessage');
    }
  });
});

describe('deliverer', () => {
  test('consumes the delivery queue one message per invocation, reporting failed items', () => {
    const mapping = eventSourceOf('Deliverer');
    expect(mapping.EventSourceArn).toEqual(arnOf(ids.deliveryQueue));
    expect(mapping.BatchSize).toBe(1);
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
  });

  // Each invocation sends at most one message per messageIntervalMs, so the bot's rate is at
  // most MaximumConcurrency × 1000 / messageIntervalMs.
  test("at a concurrency that keeps the bot under Telegram's 30 messages a second, with room to spare", () => {
    const concurrency: number = eventSourceOf('Deliverer').ScalingConfig.MaximumConcurrency;
    expect(concurrency).toBe(DELIVERER.maxConcurrency);
    expect(concurrency).toBe(24);
    expect((concurrency * 1000) / TELEGRAM.messageIntervalMs).toBeLessThanOrEqual(TELEGRAM.botMessagesPerSecond * TELEGRAM.budgetShare);
    expect(concurrency).toBeGreaterThanOrEqual(2);
  });

  test('runs up to 120 s; the queue hides a received message at least 6 times that, and dead-letters after 5 receives', () => {
    expect(view.functionOf('Deliverer').resource.Properties.Timeout).toBe(120);
    const queue = view.statefulResources[ids.deliveryQueue]!.Properties;
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * 120);
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: arnOf(ids.dlq), maxReceiveCount: MAX_RECEIVE_COUNT });
  });

  test('gets the table, the delivery queue and the name of the bot token secret, never the token', () => {
    const variables = env('Deliverer');
    expect(view.fromStateful(variables.TABLE_NAME)).toEqual(refOf(ids.table));
    expect(view.fromStateful(variables.DELIVERY_QUEUE_URL)).toEqual(refOf(ids.deliveryQueue));
    expect(view.fromStateful(variables.TELEGRAM_BOT_TOKEN_SECRET)).toEqual(BOT_TOKEN_SECRET());
    expect(variables.TELEGRAM_API_ROOT).toBeUndefined();
  });

  test('may read the bot token secret, and no other secret', () => {
    expect(statementsWith('Deliverer', 'secretsmanager:').map((s) => ({ ...s, Resource: view.fromStateful(s.Resource) }))).toEqual([
      secretStatement(BOT_TOKEN_SECRET()),
    ]);
  });

  test('with telegramApiRoot in context, gets TELEGRAM_API_ROOT', () => {
    const custom = synthService(PROD_CONTEXT, {
      stages: { prod: { ...STAGES.prod!, telegramApiRoot: 'https://telegram-proxy.example.com' } },
    });
    expect(inspect(custom).functionOf('Deliverer').resource.Properties.Environment.Variables.TELEGRAM_API_ROOT).toBe(
      'https://telegram-proxy.example.com',
    );
  });

  test('may consume and send to the delivery queue, and no other queue', () => {
    const statements = statementsWith('Deliverer', 'sqs:');
    expect(statements.flatMap(actionsOf)).toEqual(expect.arrayContaining(['sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage']));
    for (const statement of statements) expect(resourcesOf(statement)).toEqual([arnOf(ids.deliveryQueue)]);
  });
});

describe("Lambda's recursive-loop detection", () => {
  // The decision: the deliverer re-queues onto its own queue (hand-overs, long 429s, a chat's
  // next turn), so Lambda's cut-off after ~16 hops would dead-letter long jobs halfway. It is
  // allowed there and only there, bounded by the hop counter of the delivery messages, and
  // any chain Lambda does drop raises an alarm.
  test('is switched off (Allow) on the deliverers only (Telegram and webhooks: both re-queue onto their own queue); every other function keeps Terminate', () => {
    const looping = ['Deliverer', 'WebhookDelivery'];
    for (const id of ALL_FUNCTION_IDS()) {
      expect([id, view.functionOf(id).resource.Properties.RecursiveLoop]).toEqual([id, looping.includes(id) ? 'Allow' : 'Terminate']);
    }
  });

  test('the hop bound covers the largest job twice over, plus slack', () => {
    expect(MESSAGES_PER_DELIVERY_INVOCATION).toBe(100);
    // Sized for the slowest pace, a group's: 35 messages an invocation, 29 hand-overs for 1000.
    expect(GROUP_MESSAGES_PER_DELIVERY_INVOCATION).toBe(35);
    expect(MAX_DELIVERY_HOPS).toBeGreaterThanOrEqual(2 * Math.ceil(MAX_JOB_QUANTITY / GROUP_MESSAGES_PER_DELIVERY_INVOCATION));
    expect(MAX_DELIVERY_HOPS).toBeGreaterThanOrEqual(2 * Math.ceil(MAX_JOB_QUANTITY / MESSAGES_PER_DELIVERY_INVOCATION));
    expect(MAX_DELIVERY_HOPS).toBe(68);
  });

  test.each(['Generator', 'Deliverer'])('a recursive invocation Lambda drops from %s raises an alarm', (id) => {
    const alarms = Object.values(service.statelessTemplate.findResources('AWS::CloudWatch::Alarm')).filter(
      (alarm) =>
        alarm.Properties.Namespace === 'AWS/Lambda' &&
        alarm.Properties.MetricName === 'RecursiveInvocationsDropped' &&
        JSON.stringify(alarm.Properties.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: refOf(view.functionOf(id).id) }]),
    );
    expect(alarms).toHaveLength(1);
    expect(alarms[0]!.Properties).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', Statistic: 'Sum' });
  });
});

describe('routes that queue work', () => {
  test.each(API_ROUTES.map((route) => [route.id, route.queue === true] as const))(
    '%s has QUEUE_URL and sqs:SendMessage on the generation queue exactly when its route queues (%s)',
    (id, queues) => {
      // The webhook routes' grant on the webhook delivery queue is tested in webhooks.suite.ts (CDK
      // may merge it into the same statement, so it is taken out of the resources, not the statements).
      const statements = statementsWith(id, 'sqs:');
      for (const statement of statements) expect(actionsOf(statement)).toEqual(['sqs:SendMessage']);
      const resources = statements.flatMap(resourcesOf).filter((r) => !JSON.stringify(r).includes('WebhooksDeliveryQueue'));
      if (!queues) {
        expect(env(id).QUEUE_URL).toBeUndefined();
        expect(resources).toEqual([]);
        return;
      }
      expect(view.fromStateful(env(id).QUEUE_URL)).toEqual(refOf(ids.queue));
      expect(resources).toEqual([arnOf(ids.queue)]);
    },
  );

  test('bulk generation is one of them', () => {
    expect(API_ROUTES.find((route) => route.id === 'BulkGenerateAccessCodes')?.queue).toBe(true);
  });
});

describe('Telegram routes', () => {
  test('the webhook is one of them', () => {
    expect(BOT_ROUTES).toContain('TelegramWebhook');
  });

  test.each(API_ROUTES.filter((route) => route.telegram === 'bot').map((route) => route.id))(
    '%s may read the bot token and the webhook secret, whose names it gets',
    (id) => {
      const statements = statementsWith(id, 'secretsmanager:');
      expect(statements.flatMap(actionsOf)).toEqual(statements.map(() => 'secretsmanager:GetSecretValue'));
      expect(statements.flatMap(resourcesOf)).toEqual(expect.arrayContaining([BOT_TOKEN_SECRET(), WEBHOOK_SECRET()]));
      expect(statements.flatMap(resourcesOf)).toHaveLength(2);
      expect(view.fromStateful(env(id).TELEGRAM_BOT_TOKEN_SECRET)).toEqual(BOT_TOKEN_SECRET());
      expect(view.fromStateful(env(id).TELEGRAM_WEBHOOK_TOKEN_SECRET)).toEqual(WEBHOOK_SECRET());
    },
  );

  test.each(API_ROUTES.filter((route) => route.telegram === 'username').map((route) => route.id))(
    '%s gets the bot username for its deep links, and no secret of the bot',
    (id) => {
      expect(env(id).TELEGRAM_BOT_USERNAME).toBe(STAGES.prod!.telegramBotUsername);
      expect(statementsWith(id, 'secretsmanager:').flatMap(resourcesOf)).toEqual(otherSecretsOf(id));
    },
  );

  test('no function besides the deliverer, the bot routes, the cursor routes and billing (the Stripe key) may read a secret', () => {
    for (const id of ALL_FUNCTION_IDS().filter((fn) => fn !== 'Deliverer' && fn !== 'Billing' && !BOT_ROUTES.includes(fn) && !CURSOR_ROUTES.includes(fn))) {
      expect(statementsWith(id, 'secretsmanager:')).toEqual([]);
    }
  });

  test('the listing routes may read the cursor key and no other secret', () => {
    expect([...CURSOR_ROUTES].sort()).toEqual(['ListAccessCodes', 'ListWebhookDeliveries', 'ListWebhookEndpoints', 'Mcp']);
    for (const id of CURSOR_ROUTES) {
      expect(statementsWith(id, 'secretsmanager:').map((s) => ({ ...s, Resource: view.fromStateful(s.Resource) }))).toEqual([secretStatement(CURSOR_KEY())]);
    }
  });
});

describe('dead-letter consumer', () => {
  test('consumes the dead-letter queue both pipeline queues share, and may write the table', () => {
    const mapping = eventSourceOf('DeadLetter');
    expect(mapping.EventSourceArn).toEqual(arnOf(ids.dlq));
    expect(mapping.ScalingConfig?.MaximumConcurrency).toBeDefined();
    expect(view.fromStateful(env('DeadLetter').TABLE_NAME)).toEqual(refOf(ids.table));
    expect(statementsWith('DeadLetter', 'dynamodb:').flatMap(actionsOf)).toContain('dynamodb:UpdateItem');
  });
});

describe('sweeper', () => {
  // The job sweeper's schedule (the expiry sweeper has its own, test/infrastructure/expiry.suite.ts).
  const schedule = () =>
    Object.values(service.statelessTemplate.findResources('AWS::Scheduler::Schedule')).filter((r) => r.Properties.Description === 'Runs the job sweeper');

  test('EventBridge Scheduler invokes it every minute, without retries', () => {
    expect(schedule()).toHaveLength(1);
    const { Properties } = schedule()[0]!;
    expect(Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(Properties.State).toBe('ENABLED');
    expect(Properties.Target.Arn).toEqual(arnOf(view.functionOf('Sweeper').id));
    expect(Properties.Target.RetryPolicy).toEqual({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
  });

  test("the schedule's own role may invoke the sweeper and nothing else", () => {
    const roleId = logicalIdOf(schedule()[0]!.Properties.Target.RoleArn, 'Fn::GetAtt');
    const role = view.resources[roleId]!;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': TEST_ENV.account } },
      }),
    ]);
    expect(view.statementsOfRole(roleId)).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: arnOf(view.functionOf('Sweeper').id) },
    ]);
    // Not shared with any function.
    for (const id of ALL_FUNCTION_IDS()) {
      expect(logicalIdOf(view.functionOf(id).resource.Properties.Role, 'Fn::GetAtt')).not.toBe(roleId);
    }
  });

  test('may write the table and send to both pipeline queues, whose URLs it gets', () => {
    expect(view.fromStateful(env('Sweeper').QUEUE_URL)).toEqual(refOf(ids.queue));
    expect(view.fromStateful(env('Sweeper').DELIVERY_QUEUE_URL)).toEqual(refOf(ids.deliveryQueue));
    const statements = statementsWith('Sweeper', 'sqs:');
    expect(new Set(statements.flatMap(actionsOf))).toEqual(new Set(['sqs:SendMessage']));
    expect(statements.flatMap(resourcesOf)).toHaveLength(2);
    expect(statements.flatMap(resourcesOf)).toEqual(expect.arrayContaining([arnOf(ids.queue), arnOf(ids.deliveryQueue)]));
    expect(statementsWith('Sweeper', 'dynamodb:').flatMap(actionsOf)).toContain('dynamodb:UpdateItem');
  });

  test('a failed run is not retried by Lambda: the next one is a minute away', () => {
    service.statelessTemplate.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: refOf(view.functionOf('Sweeper').id),
      MaximumRetryAttempts: 0,
    });
  });
});

describe('outbox relay', () => {
  test('reads the table stream from the oldest record, reporting failures, to a dead-letter queue', () => {
    const mapping = eventSourceOf('OutboxRelay');
    expect(mapping.EventSourceArn).toEqual({ 'Fn::GetAtt': [ids.table, 'StreamArn'] });
    expect(mapping.StartingPosition).toBe('TRIM_HORIZON');
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.BisectBatchOnFunctionError).toBe(true);
    // Bounded: -1 (the default) would retry a poisoned record until the stream drops it.
    expect(mapping.MaximumRetryAttempts).toBeGreaterThanOrEqual(1);
    expect(view.fromStateful(mapping.DestinationConfig.OnFailure.Destination)).toEqual(arnOf(ids.relayDlq));
  });

  test('is invoked only for INSERTs of outbox items', () => {
    const { FilterCriteria } = eventSourceOf('OutboxRelay');
    expect(FilterCriteria.Filters).toHaveLength(1);
    const pattern = JSON.parse(FilterCriteria.Filters[0].Pattern) as EventPattern;
    expect(pattern).toEqual({ eventName: ['INSERT'], dynamodb: { NewImage: { type: { S: [OUTBOX_ITEM_TYPE] } } } });
    // Lambda filters with EventBridge's pattern syntax: check the pattern against records.
    const record = (eventName: string, type: string) => ({
      eventName,
      dynamodb: { Keys: { pk: { S: 'EVENT#evt_1' } }, NewImage: { pk: { S: 'EVENT#evt_1' }, type: { S: type } } },
    });
    expect(matchesPattern(pattern, record('INSERT', OUTBOX_ITEM_TYPE))).toBe(true);
    expect(matchesPattern(pattern, record('MODIFY', OUTBOX_ITEM_TYPE))).toBe(false);
    expect(matchesPattern(pattern, record('INSERT', 'job'))).toBe(false);
  });

  test('may put events on the service bus only, whose name it gets in EVENT_BUS_NAME', () => {
    expect(view.fromStateful(env('OutboxRelay').EVENT_BUS_NAME)).toEqual(refOf(ids.bus));
    const statements = statementsWith('OutboxRelay', 'events:');
    expect(statements).toHaveLength(1);
    expect(actionsOf(statements[0]!)).toEqual(['events:PutEvents']);
    expect(resourcesOf(statements[0]!)).toEqual([arnOf(ids.bus)]);
    for (const id of ALL_FUNCTION_IDS().filter((fn) => fn !== 'OutboxRelay')) {
      expect(statementsWith(id, 'events:')).toEqual([]);
    }
  });

  test('may read the stream but not the table itself', () => {
    expect(env('OutboxRelay').TABLE_NAME).toBeUndefined();
    for (const statement of statementsWith('OutboxRelay', 'dynamodb:')) {
      expect(resourcesOf(statement)).toEqual([{ 'Fn::GetAtt': [ids.table, 'StreamArn'] }]);
    }
  });

  test('may send to its dead-letter queue and no other', () => {
    for (const statement of statementsWith('OutboxRelay', 'sqs:')) {
      expect(resourcesOf(statement)).toEqual([arnOf(ids.relayDlq)]);
    }
  });
});

describe('event rules', () => {
  const rules = () => Object.values(service.statelessTemplate.findResources('AWS::Events::Rule'));

  test('one rule per EVENT_RULES entry, on the service bus, with the shared pattern', () => {
    expect(rules()).toHaveLength(EVENT_RULES.length);
    for (const rule of EVENT_RULES) {
      const matching = rules().filter((r) => JSON.stringify(r.Properties.EventPattern) === JSON.stringify(rule.pattern));
      expect(matching).toHaveLength(1);
      expect(view.fromStateful(matching[0]!.Properties.EventBusName)).toEqual(refOf(ids.bus));
      expect(matching[0]!.Properties.State).toBe('ENABLED');
    }
  });

  test("every rule's one target is the webhook dispatcher: no log group copy of what the archive keeps", () => {
    for (const rule of rules()) {
      expect(rule.Properties.Targets).toHaveLength(1);
      expect(JSON.stringify(rule.Properties.Targets[0].Arn)).toContain('WebhookDispatch');
    }
    expect(service.statelessTemplate.findResources('AWS::Logs::ResourcePolicy')).toEqual({});
    expect(Object.keys(service.statelessTemplate.findResources('AWS::Logs::LogGroup')).filter((id) => id.startsWith('RoutedEvents'))).toEqual([]);
  });
});

describe('alarms on the pipeline', () => {
  const alarms = () => Object.values(service.statelessTemplate.findResources('AWS::CloudWatch::Alarm'));
  const queueAlarms = (queueId: string, metric: string) =>
    alarms().filter(
      (alarm) =>
        alarm.Properties.Namespace === 'AWS/SQS' &&
        alarm.Properties.MetricName === metric &&
        JSON.stringify(view.fromStateful(alarm.Properties.Dimensions[0].Value)) ===
          JSON.stringify({ 'Fn::GetAtt': [queueId, 'QueueName'] }),
    );
  /** The alarm fires on the first message: > 0, or ≥ 1. */
  const firesOnOne = (properties: Record<string, unknown>) =>
    (properties.ComparisonOperator === 'GreaterThanThreshold' && properties.Threshold === 0) ||
    (properties.ComparisonOperator === 'GreaterThanOrEqualToThreshold' && properties.Threshold === 1);

  test.each(['dlq', 'relayDlq'] as const)('a message on the %s raises an alarm', (queue) => {
    const depth = queueAlarms(ids[queue], 'ApproximateNumberOfMessagesVisible');
    expect(depth).toHaveLength(1);
    expect(firesOnOne(depth[0]!.Properties)).toBe(true);
    expect(depth[0]!.Properties.Statistic).toBe('Maximum');
  });

  test('a dead-lettered pipeline message raises an alarm even though its consumer drains the queue', () => {
    const received = queueAlarms(ids.dlq, 'NumberOfMessagesReceived');
    expect(received).toHaveLength(1);
    expect(firesOnOne(received[0]!.Properties)).toBe(true);
  });

  test('a generation backlog that stops moving raises an alarm', () => {
    const age = queueAlarms(ids.queue, 'ApproximateAgeOfOldestMessage');
    expect(age).toHaveLength(1);
    // Above SQS's longest delay (15 min), which the generator uses to wait out Telegram.
    expect(age[0]!.Properties.Threshold).toBeGreaterThan(900);
  });

  test('a delivery backlog that stops moving raises an alarm', () => {
    const age = queueAlarms(ids.deliveryQueue, 'ApproximateAgeOfOldestMessage');
    expect(age).toHaveLength(1);
    expect(age[0]!.Properties.Threshold).toBeGreaterThan(900);
  });

  test('a lasting error rate of the generator raises an alarm; a single retried error does not', () => {
    const fn = JSON.stringify({ Name: 'FunctionName', Value: refOf(view.functionOf('Generator').id) });
    const errors = alarms().filter((alarm) => {
      const metrics: { MetricStat?: { Metric: { MetricName: string; Dimensions: unknown[] } } }[] = alarm.Properties.Metrics ?? [];
      return metrics.some((m) => m.MetricStat?.Metric.MetricName === 'Errors' && JSON.stringify(m.MetricStat.Metric.Dimensions) === `[${fn}]`);
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.Properties).toMatchObject({ Threshold: 5, EvaluationPeriods: 3, DatapointsToAlarm: 2 });
  });
});

describe('secrets stay out of the templates', () => {
  // A Telegram bot token: the bot id, a colon, 35 characters.
  const TOKEN_SHAPE = /\d{5,}:[A-Za-z0-9_-]{30,}/;
  const templates = () => [service.statefulTemplate.toJSON(), service.statelessTemplate.toJSON()];

  test("the functions' only token or secret variables are references to the secrets", () => {
    const entries = ALL_FUNCTION_IDS().flatMap((id) =>
      Object.entries(env(id))
        .filter(([key]) => /TOKEN|SECRET/i.test(key))
        .map(([key, value]) => [key, view.fromStateful(value)]),
    );
    expect(entries).toEqual(
      expect.arrayContaining([
        ['TELEGRAM_BOT_TOKEN_SECRET', BOT_TOKEN_SECRET()],
        ...BOT_ROUTES.map(() => ['TELEGRAM_WEBHOOK_TOKEN_SECRET', WEBHOOK_SECRET()]),
        ...CURSOR_ROUTES.map(() => ['CURSOR_KEY_SECRET', CURSOR_KEY()]),
        ['STRIPE_SECRET_NAME', refOf(service.stateful.getLogicalId(service.stateful.billing.stripeSecret.node.defaultChild as never))],
      ]),
    );
    expect(entries).toHaveLength(2 + 2 * BOT_ROUTES.length + CURSOR_ROUTES.length);
  });

  test('no secret has a value in the template: the token is filled by the operator, the webhook secret generated', () => {
    for (const secret of Object.values(service.statefulTemplate.findResources('AWS::SecretsManager::Secret'))) {
      expect(secret.Properties.SecretString).toBeUndefined();
    }
  });

  test('nothing in the templates looks like a bot token', () => {
    for (const template of templates()) expect(JSON.stringify(template)).not.toMatch(TOKEN_SHAPE);
  });

  test('no IAM statement of the stack grants on "*" except X-Ray', () => {
    const statements = Object.values(view.resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    for (const statement of statements.filter((s) => [s.Resource].flat().includes('*'))) {
      expect(actionsOf(statement).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    }
  });
});
