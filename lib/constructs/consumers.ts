import { Duration, Stack } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CONSUMERS, QUEUE_URL_VARIABLE, consumerEntry, type Consumer, type ConsumerId, type ConsumerNeeds, type QueueName, type StreamFilter } from '../../functions/contracts/consumers';
import { ENV } from '../../functions/contracts/env';
import { scheduleFunction } from './function-schedule';
import type { ServiceFunction } from './service-function';

/** Makes a function of the stack in `scope` (its log settings, registered for the stack's alarms). */
export type NewConsumerFunction = (
  scope: Construct,
  id: string,
  props: { entry: string; description: string; timeout: Duration; memorySize?: number; recursiveLoop?: lambda.RecursiveLoop },
) => ServiceFunction;

/** What the consumers of CONSUMERS are given: the resources their needs and sources name. */
export interface ConsumerResources {
  readonly table: ITableV2;
  /** Every queue a consumer reads or sends to, by its catalog name. */
  readonly queues: Readonly<Record<QueueName, IQueue>>;
  /** Where stream event sources put the batches they gave up on. */
  readonly streamDeadLetterQueue: IQueue;
  readonly eventBus: events.IEventBus;
  /** The rules of EVENT_RULES, by rule id: the targets of an `eventRules` consumer. */
  readonly eventRules: ReadonlyMap<string, events.Rule>;
  /** Where the rules put what they could not deliver to their target. */
  readonly eventTargetDeadLetterQueue: IQueue;
  /** Where an `eventRules` consumer's failed asynchronous invocations go. */
  readonly invokeDeadLetterQueue: IQueue;
  /** The schedule group of every `schedule` consumer (Scheduler's metrics are per group). */
  readonly scheduleGroup: scheduler.IScheduleGroup;
  readonly telegram: { readonly botTokenSecret: ISecret; readonly apiRoot: string | undefined };
  readonly stripe: { readonly secret: ISecret; readonly meterEventName: string };
}

/**
 * Where a consumer's function and schedule sit in the construct tree when not at the stack's
 * root (the function) and `<id>Schedule` (its schedule): the paths these had before the catalog,
 * kept so that the deployed resources keep their logical ids. A new consumer needs no entry.
 */
const CONSTRUCT_PATHS: Partial<Record<ConsumerId, { readonly functionScope?: string; readonly schedule?: string }>> = {
  Sweeper: { schedule: 'SweepSchedule' },
  BillingSweeper: { schedule: 'BillingConsumers/BillingSweepSchedule' },
  ExpirySweeper: { functionScope: 'Expiry', schedule: 'Expiry/ExpirySchedule' },
  WebhookSweeper: { schedule: 'Webhooks/SweepSchedule' },
};

/** The construct at `path` under `root` (`A/B`), made as a plain construct where missing. */
const scopeAt = (root: Construct, path: string | undefined): Construct =>
  (path ?? '')
    .split('/')
    .filter(Boolean)
    .reduce<Construct>((scope, id) => (scope.node.tryFindChild(id) as Construct | undefined) ?? new Construct(scope, id), root);

/** The Lambda filter of a stream source: the records it names, by event name and new image. */
const streamFilter = (filter: StreamFilter): Record<string, unknown> =>
  lambda.FilterCriteria.filter({
    eventName: [...filter.eventNames],
    dynamodb: { NewImage: Object.fromEntries(Object.entries(filter.newImage).map(([name, value]) => [name, { S: [value] }])) },
  });

/**
 * The expiry sweeper's table grant: Query on the expiry index (gsi3), the item writes a
 * TransactWriteItems of updates and puts is authorized by, and the reads a batch expiry change
 * goes on (its item, its batch's code list). Nothing else.
 */
const grantExpirySweep = (fn: ServiceFunction, table: ITableV2): void => {
  const role = fn.role;
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${table.tableArn}/index/gsi3`] }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem'], resources: [table.tableArn] }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [table.tableArn] }));
  fn.function.addEnvironment(ENV.TABLE_NAME, table.tableName);
};

/**
 * The grant and environment of each need a consumer may declare: one entry per need, so that a
 * need added to ConsumerNeeds does not compile until it says what it grants (its ports are
 * CONSUMER_NEED_PORTS in functions/handlers/consumer.ts, its production builder
 * CONSUMER_PORT_BUILDERS in lib/consumer-entries.ts, both as exhaustive).
 */
const CONSUMER_GRANTS: { readonly [K in keyof ConsumerNeeds]-?: (fn: ServiceFunction, value: NonNullable<ConsumerNeeds[K]>, resources: ConsumerResources) => void } = {
  table: (fn, access, resources) => (access === 'expirySweep' ? grantExpirySweep(fn, resources.table) : fn.useTable(resources.table, access)),
  // Which stores the function builds changes nothing it may do on the table.
  stores: () => undefined,
  deletes: (fn, prefixes, resources) => fn.deleteItems(resources.table, prefixes),
  sends: (fn, queues, resources) => {
    for (const queue of queues) fn.useQueue(QUEUE_URL_VARIABLE[queue], resources.queues[queue]);
  },
  bot: (fn, _bot, resources) => {
    fn.useSecret(ENV.TELEGRAM_BOT_TOKEN_SECRET, resources.telegram.botTokenSecret);
    if (resources.telegram.apiRoot !== undefined) fn.function.addEnvironment(ENV.TELEGRAM_API_ROOT, resources.telegram.apiRoot);
  },
  eventBus: (fn, _bus, resources) => fn.useEventBus(resources.eventBus),
  stripe: (fn, _stripe, resources) => {
    fn.useSecret(ENV.STRIPE_SECRET_NAME, resources.stripe.secret);
    fn.function.addEnvironment(ENV.STRIPE_METER_EVENT_NAME, resources.stripe.meterEventName);
  },
  // The webhook parts run on the `table` and `sends` grants; the SSRF guard runs in production mode.
  webhooks: () => undefined,
};

/** Gives one consumer's function what its catalog `needs` ask for, in the catalog's order of needs. */
const grantNeeds = (fn: ServiceFunction, consumer: Consumer, resources: ConsumerResources): void => {
  for (const [need, value] of Object.entries(consumer.needs) as [keyof ConsumerNeeds, never][]) {
    if (value !== undefined) CONSUMER_GRANTS[need](fn, value, resources);
  }
};

/** Connects one consumer's function to what invokes it, as its catalog `source` says. */
const connectSource = (stack: Stack, fn: ServiceFunction, consumer: Consumer, resources: ConsumerResources): void => {
  const { source } = consumer;
  switch (source.kind) {
    case 'queue':
      fn.function.addEventSource(
        new SqsEventSource(resources.queues[source.queue], {
          batchSize: source.batchSize,
          ...(source.reportBatchItemFailures ? { reportBatchItemFailures: true } : {}),
          ...(source.maxConcurrency !== undefined ? { maxConcurrency: source.maxConcurrency } : {}),
        }),
      );
      return;
    case 'stream':
      fn.function.addEventSource(
        new DynamoEventSource(resources.table, {
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          batchSize: source.batchSize,
          ...(source.maxBatchingWindowSeconds !== undefined ? { maxBatchingWindow: Duration.seconds(source.maxBatchingWindowSeconds) } : {}),
          reportBatchItemFailures: true,
          bisectBatchOnError: true,
          retryAttempts: source.retryAttempts,
          onFailure: new SqsDlq(resources.streamDeadLetterQueue),
          filters: [streamFilter(source.filter)],
        }),
      );
      return;
    case 'schedule': {
      const every = Duration.seconds(source.everySeconds);
      // A failed run is not retried: the next one is an interval away and does the same work.
      fn.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: every });
      const path = (CONSTRUCT_PATHS[consumer.id as ConsumerId]?.schedule ?? `${consumer.id}Schedule`).split('/');
      const id = path.pop()!;
      scheduleFunction(scopeAt(stack, path.join('/')), id, { function: fn.function, every, description: source.description, group: resources.scheduleGroup });
      return;
    }
    case 'eventRules':
      // What still fails after Lambda's retries lands on the consumer's dead-letter queue.
      fn.function.configureAsyncInvoke({
        retryAttempts: source.asyncRetryAttempts,
        onFailure: new destinations.SqsDestination(resources.invokeDeadLetterQueue),
      });
      for (const [ruleId, rule] of resources.eventRules) {
        rule.addTarget({
          bind: () => ({
            arn: fn.function.functionArn,
            retryPolicy: source.targetRetry,
            deadLetterConfig: { arn: resources.eventTargetDeadLetterQueue.queueArn },
          }),
        });
        fn.function.addPermission(`Invoke${ruleId}`, {
          principal: new iam.ServicePrincipal('events.amazonaws.com'),
          sourceArn: rule.ruleArn,
          sourceAccount: stack.account,
        });
      }
      return;
  }
};

/**
 * One Lambda per consumer of CONSUMERS, in the catalog's order: its settings, the grants of its
 * needs and its event source, all read from the catalog. Returns the functions by consumer id.
 */
export const addConsumerFunctions = (stack: Stack, newFunction: NewConsumerFunction, resources: ConsumerResources): ReadonlyMap<ConsumerId, ServiceFunction> => {
  const functions = new Map<ConsumerId, ServiceFunction>();
  for (const consumer of CONSUMERS as readonly Consumer[]) {
    const id = consumer.id as ConsumerId;
    const fn = newFunction(scopeAt(stack, CONSTRUCT_PATHS[id]?.functionScope), id, {
      entry: consumerEntry(consumer),
      description: consumer.description,
      timeout: Duration.seconds(consumer.timeoutSeconds),
      ...(consumer.memorySize !== undefined ? { memorySize: consumer.memorySize } : {}),
      ...(consumer.recursiveLoop === 'allow' ? { recursiveLoop: lambda.RecursiveLoop.ALLOW } : {}),
    });
    grantNeeds(fn, consumer, resources);
    connectSource(stack, fn, consumer, resources);
    functions.set(id, fn);
  }
  return functions;
};
