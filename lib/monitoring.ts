import { Duration } from 'aws-cdk-lib';
import type { HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC } from '../functions/contracts/metrics';
import { TABLE_SCHEMA } from '../functions/contracts/table';
import { BUSINESS_NAMESPACE, SERVICE_NAME, type ServiceFunction } from './constructs/service-function';

/** Business metrics on the dashboard, by name (Sum, dimension `service`). */
export const BUSINESS_METRICS = [
  METRIC.jobsQueued,
  METRIC.jobsCompleted,
  METRIC.jobsFailed,
  METRIC.codesGenerated,
  METRIC.messagesDelivered,
  METRIC.telegramThrottled,
  METRIC.redemptions,
  METRIC.overageRedemptions,
  METRIC.meterEventsSent,
  METRIC.stripeFailures,
  METRIC.codesExpired,
  METRIC.webhookDeliveries,
  METRIC.webhookFailures,
] as const;

/** The DynamoDB operations the functions call, whose system errors are alarmed on. */
const TABLE_OPERATIONS = [
  dynamodb.Operation.GET_ITEM,
  dynamodb.Operation.QUERY,
  dynamodb.Operation.PUT_ITEM,
  dynamodb.Operation.UPDATE_ITEM,
  dynamodb.Operation.TRANSACT_WRITE_ITEMS,
  dynamodb.Operation.DELETE_ITEM,
];

/** Percent of invocations that failed over which a function's error alarm fires (twice in a row). */
export const FUNCTION_ERROR_RATE_PERCENT = 5;
/** A function whose longest run reaches this share of its timeout is about to time out. */
export const DURATION_NEAR_TIMEOUT = 0.9;

/** What the monitoring watches. */
export interface ServiceMonitoringProps {
  readonly stage: string;
  /** The topic every alarm notifies, on alarm and on recovery; none (dev) leaves them silent. */
  readonly alarmTopicArn: string | undefined;
  readonly apiStage: HttpStage;
  readonly functions: ReadonlyMap<string, ServiceFunction>;
  /**
   * Functions that by design run close to their timeout, with the longest run that is still
   * normal (ms): their near-timeout alarm fires past it instead of at DURATION_NEAR_TIMEOUT.
   */
  readonly longestNormalRunMs?: Readonly<Record<string, { readonly ms: number; readonly why: string }>>;
  /** The functions fed by the table's stream (IteratorAge), with what falls behind when they do. */
  readonly streamConsumers: readonly { readonly id: string; readonly fn: ServiceFunction; readonly lateWhat: string }[];
  /** The functions the schedules must invoke every minute, and the schedules' group. */
  readonly scheduled: {
    readonly functions: readonly { readonly id: string; readonly fn: ServiceFunction; readonly stalls: string }[];
    readonly group: scheduler.IScheduleGroup;
  };
  readonly table: dynamodb.ITableV2;
  /** Queues whose oldest message must not wait longer than `maxAge`. */
  readonly workQueues: readonly { readonly id: string; readonly queue: sqs.IQueue; readonly maxAge: Duration; readonly description: string }[];
  /** Queues on which any message is an incident. */
  readonly deadLetterQueues: readonly {
    readonly id: string;
    readonly queue: sqs.IQueue;
    readonly description: string;
    /** For a dead-letter queue that is consumed: also alarm on any message received (depth stays near 0). */
    readonly receivedDescription?: string;
  }[];
  /** Rules of the bus whose target deliveries are alarmed on (the service's and the tenants'), by id. */
  readonly eventRules: ReadonlyMap<string, Pick<events.IRule, 'ruleName'>>;
  readonly eventBusName: string;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * The service's alarms and its dashboard. Alarms page on what needs a person: error *rates*
 * where a single failure is retried anyway, *any* occurrence where one means lost or stuck work
 * (dead letters, throttles, dropped schedule invocations), and *absence* where silence is the
 * failure (the sweeper not running). Every alarm notifies the stage's topic.
 */
export class ServiceMonitoring extends Construct {
  /** Every alarm, for tests and for others to extend. */
  readonly alarms: cloudwatch.Alarm[] = [];
  /** The one dashboard: golden signals of the API and every function, queues, table, events, business metrics. */
  readonly dashboard: cloudwatch.Dashboard;
  private readonly action: SnsAction | undefined;

  constructor(scope: Construct, id: string, props: ServiceMonitoringProps) {
    super(scope, id);
    this.action = props.alarmTopicArn ? new SnsAction(sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn)) : undefined;
    this.addApiAlarms(props.apiStage);
    for (const [name, fn] of props.functions) this.addFunctionAlarms(name, fn, props.longestNormalRunMs?.[name]);
    this.addPipelineAlarms(props);
    this.addTableAlarms(props.table);
    this.addEventAlarms(props.eventRules, props.eventBusName);
    this.dashboard = this.addDashboard(props);
  }

  /** Adds an alarm that notifies the stage's topic. */
  alarm(id: string, metric: cloudwatch.IMetric, options: Omit<cloudwatch.CreateAlarmOptions, 'treatMissingData'> & { treatMissingData?: cloudwatch.TreatMissingData }): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, { metric, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...options });
    if (this.action) {
      alarm.addAlarmAction(this.action);
      alarm.addOkAction(this.action);
    }
    this.alarms.push(alarm);
    return alarm;
  }

  private addApiAlarms(stage: HttpStage): void {
    const requests = stage.metricCount({ period: FIVE_MINUTES, statistic: 'Sum' });
    const rate = (errors: cloudwatch.IMetric, label: string) =>
      new cloudwatch.MathExpression({
        // No requests, no rate: IF keeps an idle API from dividing by zero.
        expression: 'IF(requests > 0, 100 * errors / requests, 0)',
        usingMetrics: { errors, requests },
        period: FIVE_MINUTES,
        label,
      });
    this.alarm('Api5xxRateAlarm', rate(stage.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }), '5xx %'), {
      alarmDescription: 'Over 5% of API requests answered 5xx, twice in 15 minutes; see the access logs and the function logs by request id.',
      threshold: 5,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    this.alarm('Api4xxRateAlarm', rate(stage.metricClientError({ period: FIVE_MINUTES, statistic: 'Sum' }), '4xx %'), {
      alarmDescription:
        'Over 25% of API requests answered 4xx for 15 minutes: a broken client, expired tokens, or someone probing. See the access logs (status, routeKey, userAgent).',
      threshold: 25,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    this.alarm('ApiLatencyP99Alarm', stage.metricLatency({ period: FIVE_MINUTES, statistic: 'p99' }), {
      alarmDescription: "The API's p99 latency stayed over 3 s for 15 minutes: see the functions' Duration and the table's latency.",
      threshold: 3000,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
  }

  private addFunctionAlarms(name: string, fn: ServiceFunction, longestNormalRun?: { readonly ms: number; readonly why: string }): void {
    const errors = fn.function.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' });
    const invocations = fn.function.metricInvocations({ period: FIVE_MINUTES, statistic: 'Sum' });
    // A single failure is retried (by SQS, the stream, the next sweep, or the client) and is
    // noise; a share of failures that lasts is not. Lost work is alarmed on the dead-letter queues.
    this.alarm(
      `${name}ErrorRateAlarm`,
      new cloudwatch.MathExpression({
        expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
        usingMetrics: { errors, invocations },
        period: FIVE_MINUTES,
        label: `${name} errors %`,
      }),
      {
        alarmDescription: `Over ${FUNCTION_ERROR_RATE_PERCENT}% of ${name}'s invocations failed (unhandled error or timeout), twice in 15 minutes. See its logs.`,
        threshold: FUNCTION_ERROR_RATE_PERCENT,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      },
    );
    this.alarm(`${name}ThrottlesAlarm`, fn.function.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }), {
      alarmDescription: `${name} was throttled: the account's concurrency is used up (check the Lambda concurrency quota and what else runs in the account).`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    const timeout = fn.function.timeout ?? Duration.seconds(3);
    const nearTimeout = longestNormalRun
      ? {
          threshold: longestNormalRun.ms,
          alarmDescription: `A run of ${name} took over ${longestNormalRun.ms / 1000} s of its ${timeout.toSeconds()} s timeout: ${longestNormalRun.why}`,
        }
      : {
          threshold: timeout.toMilliseconds() * DURATION_NEAR_TIMEOUT,
          alarmDescription: `A run of ${name} took over ${DURATION_NEAR_TIMEOUT * 100}% of its ${timeout.toSeconds()} s timeout: the next slow dependency makes it time out.`,
        };
    this.alarm(`${name}DurationNearTimeoutAlarm`, fn.function.metricDuration({ period: FIVE_MINUTES, statistic: 'Maximum' }), {
      ...nearTimeout,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
  }

  private addPipelineAlarms(props: ServiceMonitoringProps): void {
    for (const { id, queue, description, receivedDescription } of props.deadLetterQueues) {
      this.alarm(`${id}DepthAlarm`, queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }), {
        alarmDescription: description,
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
      if (receivedDescription === undefined) continue;
      this.alarm(`${id}ReceivedAlarm`, queue.metricNumberOfMessagesReceived({ period: FIVE_MINUTES, statistic: 'Sum' }), {
        alarmDescription: receivedDescription,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }
    for (const { id, queue, maxAge, description } of props.workQueues) {
      this.alarm(`${id}AgeAlarm`, queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }), {
        alarmDescription: description,
        threshold: maxAge.toSeconds(),
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
    }
    // The outbox relay keeps its historical alarm id; other stream consumers are named after themselves.
    for (const { id, fn, lateWhat } of props.streamConsumers) {
      this.alarm(id === 'OutboxRelay' ? 'StreamIteratorAgeAlarm' : `${id}IteratorAgeAlarm`, fn.function.metric('IteratorAge', { period: FIVE_MINUTES, statistic: 'Maximum' }), {
        alarmDescription: `${id} is over 5 minutes behind the table stream: ${lateWhat} are late, and records older than 24 h are lost. See its errors and throttles.`,
        threshold: Duration.minutes(5).toMilliseconds(),
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
    }
    const { functions: scheduled, group } = props.scheduled;
    // A dead schedule raises no error: only the missing invocations show it.
    for (const { id, fn, stalls } of scheduled) {
      this.alarm(`${id}NotRunningAlarm`, fn.function.metricInvocations({ period: FIVE_MINUTES, statistic: 'Sum' }), {
        alarmDescription: `${id} was not invoked for 5 minutes: its schedule is disabled, deleted or failing. ${stalls}`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    }
    const names = scheduled.map(({ id }) => id).join(' or ');
    this.alarm('ScheduleTargetErrorsAlarm', group.metricTargetErrors({ period: FIVE_MINUTES, statistic: 'Sum' }), {
      alarmDescription: `EventBridge Scheduler could not invoke ${names} (TargetErrorCount): check the schedules' roles and the functions.`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    this.alarm('ScheduleDroppedAlarm', group.metricDropped({ period: FIVE_MINUTES, statistic: 'Sum' }), {
      alarmDescription: `EventBridge Scheduler dropped invocations of ${names} (InvocationDroppedCount): each schedule makes one attempt, the next run is a minute later.`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
  }

  private addTableAlarms(table: dynamodb.ITableV2): void {
    const throttles = new cloudwatch.MathExpression({
      expression: 'reads + writes',
      usingMetrics: {
        reads: table.metric('ReadThrottleEvents', { period: FIVE_MINUTES, statistic: 'Sum' }),
        writes: table.metric('WriteThrottleEvents', { period: FIVE_MINUTES, statistic: 'Sum' }),
      },
      period: FIVE_MINUTES,
      label: 'table throttle events',
    });
    this.alarm('TableThrottlesAlarm', throttles, {
      alarmDescription:
        "The table throttled requests: the stage's maxWriteRequestUnits ceiling was hit, or a key is hot (see Contributor Insights).",
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    // Each index has its own write ceiling (maxWriteRequestUnits) and its own hot keys; its
    // throttles are reported under its GlobalSecondaryIndexName dimension. A write an index
    // cannot take is throttled on the table as well: this alarm names the index to look at.
    for (const { indexName } of TABLE_SCHEMA.indexes) {
      const indexMetric = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/DynamoDB',
          metricName,
          dimensionsMap: { TableName: table.tableName, GlobalSecondaryIndexName: indexName },
          period: FIVE_MINUTES,
          statistic: 'Sum',
        });
      this.alarm(
        `Index${indexName}ThrottlesAlarm`,
        new cloudwatch.MathExpression({
          expression: 'reads + writes',
          usingMetrics: { reads: indexMetric('ReadThrottleEvents'), writes: indexMetric('WriteThrottleEvents') },
          period: FIVE_MINUTES,
          label: `${indexName} throttle events`,
        }),
        {
          alarmDescription: `The table's index ${indexName} throttled requests: its maxWriteRequestUnits ceiling was hit, or one of its keys is hot (see its Contributor Insights).`,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        },
      );
    }
    this.alarm('TableSystemErrorsAlarm', table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES }), {
      alarmDescription: 'DynamoDB answered 5xx (SystemErrors): check the AWS Health Dashboard for the region.',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
  }

  private addEventAlarms(rules: ReadonlyMap<string, Pick<events.IRule, 'ruleName'>>, eventBusName: string): void {
    for (const [id, rule] of rules) {
      this.alarm(
        `${id}RuleFailedInvocationsAlarm`,
        // Rules of a custom bus report with both dimensions.
        new cloudwatch.Metric({
          namespace: 'AWS/Events',
          metricName: 'FailedInvocations',
          dimensionsMap: { EventBusName: eventBusName, RuleName: rule.ruleName },
          period: FIVE_MINUTES,
          statistic: 'Sum',
        }),
        {
          alarmDescription: `The ${id} rule failed to deliver events to its target after its retries; they are on the event target dead-letter queue.`,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        },
      );
    }
  }

  private addDashboard(props: ServiceMonitoringProps): cloudwatch.Dashboard {
    const fns = [...props.functions];
    const perFunction = (title: string, metric: (fn: ServiceFunction) => cloudwatch.Metric) =>
      new cloudwatch.GraphWidget({ title, width: 8, left: fns.map(([name, fn]) => metric(fn).with({ label: name })) });
    const stage = props.apiStage;
    const business = BUSINESS_METRICS.map(
      (metricName) =>
        new cloudwatch.Metric({
          namespace: BUSINESS_NAMESPACE,
          metricName,
          dimensionsMap: { service: SERVICE_NAME },
          statistic: 'Sum',
          period: FIVE_MINUTES,
        }),
    );
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      // The dashboard name is the one readable handle in the console; stage-scoped, not random.
      dashboardName: `memberpass-${props.stage}`,
      defaultInterval: Duration.hours(3),
    });
    dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# MemberPass access codes — ${props.stage}\nTraffic, errors, latency and saturation of the API and of every function; the pipeline's queues; the table; events; business metrics (namespace \`${BUSINESS_NAMESPACE}\`).`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'API requests', width: 8, left: [stage.metricCount({ statistic: 'Sum', period: FIVE_MINUTES })] }),
      new cloudwatch.GraphWidget({
        title: 'API errors',
        width: 8,
        left: [stage.metricClientError({ statistic: 'Sum', period: FIVE_MINUTES }), stage.metricServerError({ statistic: 'Sum', period: FIVE_MINUTES })],
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency',
        width: 8,
        left: ['p50', 'p99'].map((statistic) => stage.metricLatency({ statistic, period: FIVE_MINUTES, label: statistic })),
      }),
    );
    dashboard.addWidgets(
      perFunction('Invocations', (fn) => fn.function.metricInvocations({ statistic: 'Sum', period: FIVE_MINUTES })),
      perFunction('Errors', (fn) => fn.function.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES })),
      perFunction('Throttles', (fn) => fn.function.metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES })),
    );
    dashboard.addWidgets(
      perFunction('Duration p99', (fn) => fn.function.metricDuration({ statistic: 'p99', period: FIVE_MINUTES })),
      perFunction('Concurrent executions', (fn) => fn.function.metric('ConcurrentExecutions', { statistic: 'Maximum', period: FIVE_MINUTES })),
      new cloudwatch.GraphWidget({
        title: 'Stream iterator age (ms)',
        width: 8,
        left: props.streamConsumers.map(({ id, fn }) => fn.function.metric('IteratorAge', { statistic: 'Maximum', period: FIVE_MINUTES, label: id })),
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Queue depth',
        width: 8,
        left: [...props.workQueues, ...props.deadLetterQueues].map(({ id, queue }) =>
          queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1), label: id }),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Oldest message age (s)',
        width: 8,
        left: props.workQueues.map(({ id, queue }) =>
          queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: Duration.minutes(1), label: id }),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Business metrics',
        width: 8,
        left: business,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Table capacity',
        width: 8,
        left: [props.table.metricConsumedReadCapacityUnits({ statistic: 'Sum', period: FIVE_MINUTES })],
        right: [props.table.metricConsumedWriteCapacityUnits({ statistic: 'Sum', period: FIVE_MINUTES })],
      }),
      new cloudwatch.GraphWidget({
        title: 'Table throttles and system errors',
        width: 8,
        left: ['ReadThrottleEvents', 'WriteThrottleEvents'].map((name) => props.table.metric(name, { statistic: 'Sum', period: FIVE_MINUTES })),
        right: [props.table.metricSystemErrorsForOperations({ operations: TABLE_OPERATIONS, period: FIVE_MINUTES })],
      }),
      new cloudwatch.GraphWidget({
        title: 'Event rules',
        width: 8,
        left: [...props.eventRules].flatMap(([id, rule]) =>
          ['Invocations', 'FailedInvocations'].map(
            (metricName) =>
              new cloudwatch.Metric({
                namespace: 'AWS/Events',
                metricName,
                dimensionsMap: { EventBusName: props.eventBusName, RuleName: rule.ruleName },
                statistic: 'Sum',
                period: FIVE_MINUTES,
                label: `${id} ${metricName}`,
              }),
          ),
        ),
      }),
    );
    return dashboard;
  }
}
