import { Match } from 'aws-cdk-lib/assertions';
import { ACCESS_CODE_EVENT_TYPES, EVENT_SOURCE } from '../../functions/contracts/events';
import { EVENT_RULES } from '../../functions/contracts/event-rules';
import { WEBHOOK_DELIVERY } from '../../functions/contracts/pipeline-settings';
import { WEBHOOK_TIMEOUT_MS } from '../../functions/adapters/webhooks/http-webhook-sender';
import { eventJsonSchema } from '../../lib/constructs/event-consumers';
import { EVENT_TARGET_RETRY } from '../../functions/contracts/consumers';
import { actionsOf, inspect, logicalIdOf } from './inspect';
import { synthService, type SynthesizedService } from './synth';

// The webhooks and the EventBridge consumers' path in the synthesized prod stage.

let service: SynthesizedService;
let view: ReturnType<typeof inspect>;

beforeAll(() => {
  service = synthService({ stage: 'prod' });
  view = inspect(service);
});

describe('EventBridge consumers', () => {
  test('the schema registry holds one JSON Schema per event type, generated from the envelope', () => {
    service.statefulTemplate.resourceCountIs('AWS::EventSchemas::Registry', 1);
    const schemas = service.statefulTemplate.findResources('AWS::EventSchemas::Schema');
    expect(Object.keys(schemas)).toHaveLength(3);
    const byName = Object.fromEntries(Object.values(schemas).map((s: any) => [s.Properties.SchemaName, s.Properties]));
    for (const type of ACCESS_CODE_EVENT_TYPES) {
      const schema = byName[`${EVENT_SOURCE}@${type}`];
      expect(schema).toMatchObject({ Type: 'JSONSchemaDraft4' });
      const content = JSON.parse(schema.Content);
      expect(content.properties['detail-type']).toEqual({ enum: [type] });
      expect(content.properties.detail.properties.type).toEqual({ enum: [type] });
      expect(content.properties.detail.required).toEqual(expect.arrayContaining(['id', 'type', 'created_at', 'api_version', 'project_id', 'data']));
    }
  });

  test('the generated schema of access_code.generated requires its data fields', () => {
    const data = (eventJsonSchema('access_code.generated').properties as any).detail.properties.data;
    expect(data.required).toEqual(expect.arrayContaining(['batch_id', 'plan_id', 'count', 'expires_at']));
    // Not a hand copy: the envelope's own id rule (evt_ prefix) comes through from valibot.
    expect(JSON.stringify(eventJsonSchema('access_code.redeemed'))).toContain('^evt_');
    expect(data.properties.batch_id).toEqual({ type: 'string' });
    expect(data.properties.expires_at).toEqual({ anyOf: [{ type: 'string' }, { type: 'null' }] });
  });

  test('the committed prod stage lets no account put rules on its bus', () => {
    service.statefulTemplate.resourceCountIs('AWS::Events::EventBusPolicy', 0);
  });
});

describe('webhook dispatch and delivery', () => {
  test('every event rule targets the webhook dispatcher with the retry policy and the event-target DLQ', () => {
    const dispatcher = view.functionOf('WebhookDispatch').id;
    const rules = Object.values(service.statelessTemplate.findResources('AWS::Events::Rule')) as any[];
    expect(rules).toHaveLength(EVENT_RULES.length);
    for (const rule of rules) {
      const target = rule.Properties.Targets.find((t: any) => t.Arn?.['Fn::GetAtt'] && logicalIdOf(t.Arn, 'Fn::GetAtt') === dispatcher);
      expect(target).toBeDefined();
      expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: EVENT_TARGET_RETRY.maximumRetryAttempts, MaximumEventAgeInSeconds: EVENT_TARGET_RETRY.maximumEventAgeInSeconds });
      expect(JSON.stringify(view.fromStateful(target.DeadLetterConfig.Arn))).toContain('EventTargetDeadLetterQueue');
    }
    service.statelessTemplate.resourcePropertiesCountIs('AWS::Lambda::Permission', { Principal: 'events.amazonaws.com', FunctionName: Match.objectLike({ 'Fn::GetAtt': [dispatcher, 'Arn'] }) }, EVENT_RULES.length);
  });

  test('the delivery queue feeds the deliverer one message at a time, bounded, with partial failures, and dead-letters after its receives', () => {
    service.statelessTemplate.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: view.functionOf('WebhookDelivery').id },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: WEBHOOK_DELIVERY.maxConcurrency },
    });
    service.statelessTemplate.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { maxReceiveCount: WEBHOOK_DELIVERY.maxReceiveCount, deadLetterTargetArn: Match.anyValue() },
    });
  });

  test('the SSRF guard is in production mode: no function is told to allow private URLs', () => {
    const functions = Object.values(service.statelessTemplate.findResources('AWS::Lambda::Function')) as any[];
    for (const fn of functions) expect(Object.keys(fn.Properties.Environment?.Variables ?? {})).not.toContain('WEBHOOK_ALLOW_PRIVATE_URLS');
    expect(view.functionOf('WebhookDelivery').resource.Properties.Environment.Variables.WEBHOOK_DELIVERY_QUEUE_URL).toBeDefined();
  });

  test('of the webhook routes, only retrying a delivery (and MCP, which runs that tool) may send to the delivery queue; the others neither hold the grant nor know the URL', () => {
    const sqsActions = (id: string) => view.statementsOf(id).flatMap((s) => actionsOf(s).filter((a) => a.startsWith('sqs:')));
    const queueUrl = (id: string) => view.functionOf(id).resource.Properties.Environment.Variables.WEBHOOK_DELIVERY_QUEUE_URL;
    const deliveryQueue = logicalIdOf(queueUrl('WebhookDelivery'), 'Ref');
    const sendsToDeliveryQueue = (id: string) =>
      view.statementsOf(id).some((s) => actionsOf(s).includes('sqs:SendMessage') && JSON.stringify(s.Resource).includes(`"${deliveryQueue}"`));
    for (const id of ['RetryWebhookDelivery', 'Mcp']) {
      expect([id, sendsToDeliveryQueue(id)]).toEqual([id, true]);
      expect(logicalIdOf(queueUrl(id), 'Ref')).toBe(deliveryQueue);
    }
    expect(sqsActions('RetryWebhookDelivery')).toEqual(['sqs:SendMessage']);
    const others = ['CreateWebhookEndpoint', 'UpdateWebhookEndpoint', 'DeleteWebhookEndpoint', 'RotateWebhookSecret', 'ListWebhookEndpoints', 'GetWebhookEndpoint', 'ListWebhookDeliveries', 'SendTestWebhook'];
    for (const id of others) expect([id, sqsActions(id), queueUrl(id)]).toEqual([id, [], undefined]);
    expect(sqsActions('ListAccessCodes')).toEqual([]);
  });

  test('the routes that make an attempt outlast the 15 s attempt timeout', () => {
    for (const id of ['SendTestWebhook', 'RetryWebhookDelivery']) {
      expect(view.functionOf(id).resource.Properties.Timeout).toBeGreaterThan(WEBHOOK_TIMEOUT_MS / 1000);
      expect(view.functionOf(id).resource.Properties.Timeout).toBeLessThan(30);
    }
  });

  test('both webhook dead-letter queues are alarmed on', () => {
    const alarms = Object.keys(service.statelessTemplate.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.some((id) => id.includes('WebhookDeliveryDeadLetterAlarm'))).toBe(true);
    expect(alarms.some((id) => id.includes('WebhookDispatchDeadLetterAlarm'))).toBe(true);
  });

  test('a recursive loop Lambda stops through the webhook deliverer pages', () => {
    const alarms = Object.values(service.statelessTemplate.findResources('AWS::CloudWatch::Alarm')) as Array<{ Properties: Record<string, any> }>;
    const loop = alarms.filter((alarm) => alarm.Properties.MetricName === 'RecursiveInvocationsDropped');
    const deliverer = view.functionOf('WebhookDelivery').id;
    expect(loop.some((alarm) => JSON.stringify(alarm.Properties.Dimensions).includes(deliverer))).toBe(true);
  });
});
