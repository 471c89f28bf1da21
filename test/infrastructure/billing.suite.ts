import { BILLING_POLICY } from '../../functions/domain/billing';
import { BILLING_MAX_RECEIVE_COUNT } from '../../functions/contracts/consumers';
import { actionsOf, inspect } from './inspect';
import { synthService, type SynthesizedService } from './synth';

// The protected stage, without bundling: nothing here reads the bundles.
let service: SynthesizedService;
let view: ReturnType<typeof inspect>;
let ids: { queue: string; dlq: string; secret: string; table: string };

beforeAll(() => {
  service = synthService({ stage: 'prod' });
  view = inspect(service);
  const stack = service.stateful;
  const idOf = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
  ids = {
    queue: idOf(stack.billing.queue),
    dlq: idOf(stack.billing.deadLetterQueue),
    secret: idOf(stack.billing.stripeSecret),
    table: idOf(stack.table),
  };
});

const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const resolved = (value: unknown) => JSON.stringify(view.fromStateful(value));

describe('the billing queue', () => {
  test('is FIFO, deduplicated per customer group, and dead-letters into a FIFO queue only after more receives than the queue retries itself', () => {
    const queue = view.statefulResources[ids.queue]!.Properties;
    expect(queue).toMatchObject({ FifoQueue: true, ContentBasedDeduplication: false, DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' });
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: arnOf(ids.dlq), maxReceiveCount: BILLING_MAX_RECEIVE_COUNT });
    expect(BILLING_MAX_RECEIVE_COUNT).toBeGreaterThan(BILLING_POLICY.queueRetryAttempts);
    // Longer than one invocation of the billing function.
    expect(queue.VisibilityTimeout).toBeGreaterThan(view.functionOf('Billing').resource.Properties.Timeout);
    expect(view.statefulResources[ids.dlq]!.Properties).toMatchObject({ FifoQueue: true, MessageRetentionPeriod: 14 * 24 * 3600 });
  });

  test('its dead-letter queue has an alarm', () => {
    const alarms = Object.values(view.resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    const onDlq = alarms.filter((alarm) => resolved(alarm.Properties).includes(ids.dlq));
    expect(onDlq.length).toBeGreaterThanOrEqual(1);
  });
});

describe('the Stripe key', () => {
  test('is a secret named by the stage config, created empty and retained on a protected stage', () => {
    const secret = view.statefulResources[ids.secret]!;
    expect(secret.Properties.Name).toBe('memberpass/prod/stripe-secret-key');
    expect(secret.Properties.GenerateSecretString).toBeUndefined();
    expect(secret.Properties.SecretString).toBeUndefined();
    expect((secret as unknown as { DeletionPolicy: string }).DeletionPolicy).toBe('Retain');
  });

  test('only the billing function may read it, and it reads no other secret', () => {
    const readers = [...service.stateless.functions.keys()].filter((id) =>
      view.statementsOf(id).some((s) => actionsOf(s).includes('secretsmanager:GetSecretValue') && resolved(s.Resource).includes(ids.secret)),
    );
    expect(readers).toEqual(['Billing']);
    const secretStatements = view.statementsOf('Billing').filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    expect(secretStatements).toHaveLength(1);
    expect(resolved(secretStatements[0]!.Resource)).toContain(ids.secret);
    expect(view.functionOf('Billing').resource.Properties.Environment.Variables.STRIPE_METER_EVENT_NAME).toBe('access_code_redemption');
  });
});

describe('the billing functions', () => {
  test('the forwarder reads only queued billing records off the stream and may only send to the billing queue', () => {
    const [mapping] = view.eventSourcesOf('BillingForwarder');
    const filter = JSON.parse(mapping!.Properties.FilterCriteria.Filters[0].Pattern);
    expect(filter).toEqual({
      eventName: ['INSERT', 'MODIFY'],
      dynamodb: { NewImage: { type: { S: ['billing_record'] }, state: { S: ['queued'] } } },
    });
    expect(mapping!.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    const sends = view.statementsOf('BillingForwarder').filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:Send')));
    // The billing queue, and the stream's on-failure destination (the relay dead-letter queue, alarmed on).
    expect(sends.map((s) => resolved(s.Resource)).sort()).toEqual([JSON.stringify(arnOf(ids.queue)), JSON.stringify(arnOf(view.statefulId('AWS::SQS::Queue', 'RelayDeadLetterQueue')))].sort());
    expect(view.statementsOf('BillingForwarder').some((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:') || a.startsWith('dynamodb:Put') || a.startsWith('dynamodb:Update')))).toBe(false);
  });

  test('the billing function takes one message per invocation from the FIFO queue and reports failures', () => {
    const mappings = view.eventSourcesOf('Billing');
    expect(mappings).toHaveLength(1);
    expect(mappings[0]!.Properties).toMatchObject({ BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(resolved(mappings[0]!.Properties.EventSourceArn)).toBe(JSON.stringify(arnOf(ids.queue)));
  });

  test('the billing sweeper runs every minute, may read and write the table and send to the billing queue, and reads no secret', () => {
    const schedules = Object.values(view.resources).filter((r) => r.Type === 'AWS::Scheduler::Schedule' && resolved(r.Properties).includes(view.functionOf('BillingSweeper').id));
    expect(schedules).toHaveLength(1);
    expect(schedules[0]!.Properties.ScheduleExpression).toBe('rate(1 minute)');
    const statements = view.statementsOf('BillingSweeper');
    expect(statements.some((s) => actionsOf(s).includes('sqs:SendMessage') && resolved(s.Resource) === JSON.stringify(arnOf(ids.queue)))).toBe(true);
    expect(statements.some((s) => actionsOf(s).includes('dynamodb:UpdateItem'))).toBe(true);
    expect(statements.some((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')))).toBe(false);
  });

  test('retries, overdue windows, parked usage and a stopped sweeper are alarmed', () => {
    const alarms = Object.values(view.resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    const onMetric = (name: string) => alarms.filter((alarm) => alarm.Properties.MetricName === name);
    for (const name of ['billingRetries', 'billingOverdue', 'billingParked']) {
      expect(onMetric(name)).toHaveLength(1);
      expect(onMetric(name)[0]!.Properties.AlarmActions?.length ?? 0).toBeGreaterThan(0);
    }
    expect(alarms.some((alarm) => alarm.Properties.MetricName === 'Invocations' && resolved(alarm.Properties.Dimensions).includes(view.functionOf('BillingSweeper').id))).toBe(true);
  });

  test('POST /v1/access-codes/redeem has its own throttle', () => {
    const stage = Object.values(view.resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!;
    const settings = stage.Properties.RouteSettings ?? {};
    expect(settings['POST /v1/access-codes/redeem']).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
  });
});
