import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { METRIC } from '../../functions/contracts/metrics';
import { BUSINESS_NAMESPACE, SERVICE_NAME, ServiceFunction, type ServiceFunctionProps } from './service-function';
import { scheduleFunction } from './function-schedule';
import type { ServiceMonitoring } from '../monitoring';

/** Properties of the expiry sweep. */
export interface ExpirySweepProps {
  readonly table: ITableV2;
  /** How often the sweep runs (the job sweeper's interval). */
  readonly every: Duration;
  /** The service's schedule group (its target errors are alarmed on). */
  readonly group: scheduler.IScheduleGroup;
  /** Log settings of the stage. */
  readonly functionDefaults: Pick<ServiceFunctionProps, 'logLevel' | 'logRetention' | 'logRemovalPolicy'>;
}

/**
 * The expiry sweeper: a function of its own on a schedule of its own (same interval and group
 * as the job sweeper), so that a backlog of expiring codes never delays the recovery of stalled
 * jobs, and each has only its own grants: here Query on the expiry index (gsi3), the item
 * writes a TransactWriteItems of updates and puts is authorized by, and the reads that carry a
 * batch expiry change on (its item, its batch's code list). Nothing else.
 */
export class ExpirySweep extends Construct {
  /** The sweeper function. */
  readonly sweeper: ServiceFunction;
  /** Its schedule. */
  readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: ExpirySweepProps) {
    super(scope, id);
    this.sweeper = new ServiceFunction(this, 'ExpirySweeper', {
      entry: 'functions/entrypoints/expiry-sweeper.ts',
      description: 'The expiry sweeper: expires codes past expires_at, one access_code.expired event each, and finishes batch expiry changes (every minute)',
      // A run works until 10 s before its timeout: 70 s is a full minute of work a minute (a
      // run overlaps the next by its last page at most; overlaps are safe, each code once).
      timeout: Duration.seconds(70),
      ...props.functionDefaults,
    });
    const role = this.sweeper.role;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${props.table.tableArn}/index/gsi3`] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem'], resources: [props.table.tableArn] }),
    );
    // Batch expiry changes: the change's item (GetItem) and the batch's code list (Query on the table).
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [props.table.tableArn] }));
    this.sweeper.function.addEnvironment('TABLE_NAME', props.table.tableName);
    // A failed run is not retried: the next one is an interval away and does the same work.
    this.sweeper.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: props.every });
    this.schedule = scheduleFunction(this, 'ExpirySchedule', {
      function: this.sweeper.function,
      every: props.every,
      description: 'Runs the expiry sweeper',
      group: props.group,
    });
  }

  /** Alarms beyond the per-function ones: runs that keep leaving due codes behind. */
  addAlarms(monitoring: ServiceMonitoring): void {
    const backlog = new cloudwatch.Metric({
      namespace: BUSINESS_NAMESPACE,
      metricName: METRIC.expiryBacklog,
      dimensionsMap: { service: SERVICE_NAME },
      statistic: 'Minimum',
      period: Duration.minutes(5),
    });
    // Minimum 1 over 5 minutes: every run in it worked until its time was up and still left
    // due codes; three such periods in a row is a backlog growing faster than the sweep drains it.
    monitoring.alarm('ExpiryBacklogAlarm', backlog, {
      alarmDescription: 'Every expiry sweep for 15 minutes ran out of time with due codes left: codes are being expired late. See the ExpirySweeper logs (found, expired, pages, durationMs) and docs/CAPACITY.md (Expiry).',
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
  }
}
