import { Stack, type Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';

/** What to run, and how often. */
export interface FunctionScheduleProps {
  /** The function to invoke. */
  readonly function: lambda.IFunction;
  /** How often. */
  readonly every: Duration;
  /** One line for the console. */
  readonly description: string;
  /** The schedule group (Scheduler's metrics are per group). @default the account's default group */
  readonly group?: scheduler.IScheduleGroup;
}

/**
 * EventBridge Scheduler invokes `function` every `every`, with a role of its own (`<id>Role`)
 * that may invoke this function only (aws-scheduler-targets' LambdaInvoke would also grant
 * every version and alias, `<arn>:*`). A missed or failed run is not retried: the next one is
 * due within the interval and does the same work. Both constructs are created in `scope` under
 * `id` and `<id>Role`, so a schedule keeps its logical ids when moved to this helper.
 */
export const scheduleFunction = (scope: Construct, id: string, props: FunctionScheduleProps): scheduler.Schedule => {
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
    }),
    description: `EventBridge Scheduler: ${props.description}`,
  });
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.function.functionArn] }));
  return new scheduler.Schedule(scope, id, {
    description: props.description,
    ...(props.group ? { scheduleGroup: props.group } : {}),
    schedule: scheduler.ScheduleExpression.rate(props.every),
    target: {
      bind: () => ({
        arn: props.function.functionArn,
        role,
        retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: props.every.toSeconds() },
      }),
    },
  });
};
