import { TABLE_SCHEMA } from '../../functions/contracts/table';
import { actionsOf, inspect, logicalIdOf } from './inspect';
import { synthService, type SynthesizedService } from './synth';

let service: SynthesizedService;
let view: ReturnType<typeof inspect>;

beforeAll(() => {
  service = synthService({ stage: 'prod' });
  view = inspect(service);
});

const tableId = () => view.statefulId('AWS::DynamoDB::GlobalTable');

describe('the expiry sweep', () => {
  test('the table has the expiry index gsi3 (pk gsi3pk, sk gsi3sk), from the one table definition', () => {
    const table = view.statefulResources[tableId()]!;
    const gsi3 = table.Properties.GlobalSecondaryIndexes.find((index: { IndexName: string }) => index.IndexName === 'gsi3');
    expect(gsi3.KeySchema).toEqual([
      { AttributeName: 'gsi3pk', KeyType: 'HASH' },
      { AttributeName: 'gsi3sk', KeyType: 'RANGE' },
    ]);
    expect(TABLE_SCHEMA.indexes.map((index) => index.indexName)).toContain('gsi3');
  });

  test('the sweeper may query gsi3 and the table, get, update, put and condition-check table items; nothing else on DynamoDB', () => {
    const dynamo = view.statementsOf('ExpirySweeper').filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    const granted = dynamo.flatMap((s) => actionsOf(s).map((action) => [action, JSON.stringify(view.fromStateful(s.Resource))] as const));
    const tableArn = JSON.stringify({ 'Fn::GetAtt': [tableId(), 'Arn'] });
    expect(granted.map(([action]) => action).sort()).toEqual(['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    const queried = granted.filter(([action]) => action === 'dynamodb:Query').map(([, resource]) => resource);
    expect(queried.filter((resource) => resource.includes('/index/gsi3'))).toHaveLength(1);
    expect(queried.filter((resource) => resource === tableArn)).toHaveLength(1);
    for (const [action, resource] of granted) if (action !== 'dynamodb:Query') expect(resource).toBe(tableArn);
  });

  test('a schedule of the service group invokes the sweeper every minute, without retries', () => {
    const fnId = view.functionOf('ExpirySweeper').id;
    const schedules = Object.values(view.resources).filter(
      (r) => r.Type === 'AWS::Scheduler::Schedule' && logicalIdOf(r.Properties.Target.Arn, 'Fn::GetAtt') === fnId,
    );
    expect(schedules).toHaveLength(1);
    expect(schedules[0]!.Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(schedules[0]!.Properties.Target.RetryPolicy.MaximumRetryAttempts).toBe(0);
    expect(schedules[0]!.Properties.GroupName).toBeDefined();
  });

  test('alarms fire on the sweeper errors and on a backlog that every run leaves for 15 minutes', () => {
    const alarms = Object.values(view.resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    const backlog = alarms.filter((r) => r.Properties.MetricName === 'expiryBacklog');
    expect(backlog).toHaveLength(1);
    expect(backlog[0]!.Properties).toMatchObject({ Namespace: 'MemberPass', Statistic: 'Minimum', Period: 300, EvaluationPeriods: 3, Threshold: 1 });
    const fnId = view.functionOf('ExpirySweeper').id;
    // The error-rate alarm is a metric math alarm over the function's Errors and Invocations.
    const errors = alarms.filter((r) =>
      (r.Properties.Metrics ?? []).some(
        (m: { MetricStat?: { Metric: { MetricName: string; Dimensions?: Array<{ Value: unknown }> } } }) =>
          m.MetricStat?.Metric.MetricName === 'Errors' && m.MetricStat.Metric.Dimensions?.some((d) => logicalIdOf(d.Value, 'Ref') === fnId),
      ),
    );
    expect(errors).toHaveLength(1);
  });
});
