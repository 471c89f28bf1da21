import { CONSUMERS, QUEUE_URL_VARIABLE, consumerEntry, type Consumer, type QueueName } from '../../functions/contracts/consumers';
import { EVENT_RULES } from '../../functions/contracts/event-rules';
import { API_ROUTES } from '../../lib/api-routes';
import { actionsOf, inspect, logicalIdOf } from './inspect';
import { synthService, type SynthesizedService } from './synth';

// The consumer catalog against the synthesized template: one Lambda per catalog consumer and
// none besides the routes', each with the catalog's settings and event source. The specifics of
// each consumer (grants, filters, alarms) are pinned in the other suites.
let service: SynthesizedService;
let view: ReturnType<typeof inspect>;
let queueArns: Record<QueueName, unknown>;
let relayDeadLetterArn: unknown;
let dispatchDeadLetterArn: unknown;

beforeAll(() => {
  service = synthService({ stage: 'prod' });
  view = inspect(service);
  const { stateful, stateless } = service;
  const statefulArn = (construct: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetAtt': [stateful.getLogicalId(construct.node.defaultChild as never), 'Arn'] });
  const webhooks = stateless.node.findChild('Webhooks');
  const webhookQueue = webhooks.node.findChild('DeliveryQueue');
  relayDeadLetterArn = statefulArn(stateful.relayDeadLetterQueue);
  dispatchDeadLetterArn = { 'Fn::GetAtt': [stateless.getLogicalId(webhooks.node.findChild('DispatchDeadLetterQueue').node.defaultChild as never), 'Arn'] };
  queueArns = {
    generation: statefulArn(stateful.generationQueue),
    delivery: statefulArn(stateful.deliveryQueue),
    pipelineDeadLetter: statefulArn(stateful.generationDeadLetterQueue),
    billing: statefulArn(stateful.billing.queue),
    webhookDelivery: { 'Fn::GetAtt': [stateless.getLogicalId(webhookQueue.node.defaultChild as never), 'Arn'] },
  };
});

const CATALOG = CONSUMERS as readonly Consumer[];
const ofKind = <K extends Consumer['source']['kind']>(kind: K) =>
  CATALOG.filter((consumer): consumer is Consumer & { source: Extract<Consumer['source'], { kind: K }> } => consumer.source.kind === kind).map(
    (consumer) => [consumer.id, consumer] as const,
  );

describe('the consumer catalog in the template', () => {
  test('has one Lambda per catalog consumer, and no function that is neither a consumer nor a route', () => {
    const fnIds = Object.entries(view.resources)
      .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
      .map(([logicalId]) => logicalId)
      .sort();
    const byLogicalId = new Map([...service.stateless.functions.keys()].map((id) => [view.functionOf(id).id, id]));
    // Every function of the template is a ServiceFunction of the stack…
    expect(fnIds.map((logicalId) => byLogicalId.get(logicalId) ?? logicalId).sort()).toEqual([...byLogicalId.values()].sort());
    // …and those that serve no route are the catalog's consumers, one each.
    const routeIds = new Set(API_ROUTES.map((route) => route.id));
    const nonRoutes = [...byLogicalId.values()].filter((id) => !routeIds.has(id)).sort();
    expect(nonRoutes).toEqual(CATALOG.map((consumer) => consumer.id).sort());
    expect(new Set(nonRoutes).size).toBe(CATALOG.length);
  });

  test.each(CATALOG.map((consumer) => [consumer.id, consumer] as const))('%s has the entry, timeout, memory and description of its entry', (id, consumer) => {
    const { resource } = view.functionOf(id);
    expect(resource.Properties.Timeout).toBe(consumer.timeoutSeconds);
    expect(resource.Properties.MemorySize).toBe(consumer.memorySize ?? 512);
    expect(resource.Properties.Description).toBe(consumer.description);
    expect(resource.Properties.RecursiveLoop).toBe(consumer.recursiveLoop === 'allow' ? 'Allow' : 'Terminate');
    const roleId = logicalIdOf(resource.Properties.Role, 'Fn::GetAtt');
    expect(view.resources[roleId]!.Properties.Description).toBe(`Execution role of ${consumerEntry(consumer)}`);
    // Each queue it sends to: the URL in its variable and SendMessage on those queues only (and
    // on where its source puts what fails: a stream's batches, an event consumer's invocations).
    const variables = resource.Properties.Environment.Variables as Record<string, unknown>;
    const sendTargets = view
      .statementsOf(id)
      .filter((statement) => actionsOf(statement).includes('sqs:SendMessage'))
      .flatMap((statement) => [statement.Resource].flat().map((arn) => JSON.stringify(view.fromStateful(arn))));
    const failureQueue = { stream: [relayDeadLetterArn], eventRules: [dispatchDeadLetterArn] }[consumer.source.kind as string] ?? [];
    const expected = [...(consumer.needs.sends ?? []).map((queue) => queueArns[queue]), ...failureQueue].map((arn) => JSON.stringify(arn));
    expect(sendTargets.sort()).toEqual(expected.sort());
    for (const queue of consumer.needs.sends ?? []) expect(variables[QUEUE_URL_VARIABLE[queue]]).toBeDefined();
  });

  test.each(ofKind('queue'))('%s reads its queue with the batch size, concurrency and batch responses of its entry', (id, consumer) => {
    const mappings = view.eventSourcesOf(id);
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]!.Properties;
    expect(view.fromStateful(mapping.EventSourceArn)).toEqual(queueArns[consumer.source.queue]);
    expect(mapping.BatchSize).toBe(consumer.source.batchSize);
    expect(mapping.ScalingConfig?.MaximumConcurrency).toBe(consumer.source.maxConcurrency);
    expect(mapping.FunctionResponseTypes).toEqual(consumer.source.reportBatchItemFailures ? ['ReportBatchItemFailures'] : undefined);
  });

  test.each(ofKind('stream'))('%s reads the table stream, filtered as its entry says', (id, consumer) => {
    const mappings = view.eventSourcesOf(id);
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]!.Properties;
    expect(mapping.BatchSize).toBe(consumer.source.batchSize);
    expect(mapping.MaximumRetryAttempts).toBe(consumer.source.retryAttempts);
    expect(mapping.MaximumBatchingWindowInSeconds).toBe(consumer.source.maxBatchingWindowSeconds);
    const pattern = JSON.parse(mapping.FilterCriteria.Filters[0].Pattern);
    expect(pattern.eventName).toEqual(consumer.source.filter.eventNames);
    expect(Object.fromEntries(Object.entries(pattern.dynamodb.NewImage).map(([name, value]) => [name, (value as { S: string[] }).S[0]]))).toEqual(
      consumer.source.filter.newImage,
    );
  });

  test.each(ofKind('schedule'))('%s runs on a schedule at the rate of its entry, never retried', (id, consumer) => {
    const fnId = view.functionOf(id).id;
    const schedules = Object.values(view.resources).filter(
      (resource) => resource.Type === 'AWS::Scheduler::Schedule' && logicalIdOf(resource.Properties.Target.Arn, 'Fn::GetAtt') === fnId,
    );
    expect(schedules).toHaveLength(1);
    const minutes = consumer.source.everySeconds / 60;
    expect(schedules[0]!.Properties.ScheduleExpression).toBe(`rate(${minutes} minute${minutes === 1 ? '' : 's'})`);
    expect(schedules[0]!.Properties.Description).toBe(consumer.source.description);
    expect(schedules[0]!.Properties.Target.RetryPolicy).toEqual({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: consumer.source.everySeconds });
    expect(view.eventSourcesOf(id)).toEqual([]);
  });

  test.each(ofKind('eventRules'))('%s is the target of every event rule, with the retry policy of its entry', (id, consumer) => {
    const fnId = view.functionOf(id).id;
    const rules = Object.values(view.resources).filter((resource) => resource.Type === 'AWS::Events::Rule' && resource.Properties.Targets);
    const targeting = rules.filter((rule) => rule.Properties.Targets.some((target: any) => target.Arn?.['Fn::GetAtt'] && logicalIdOf(target.Arn, 'Fn::GetAtt') === fnId));
    expect(targeting).toHaveLength(EVENT_RULES.length);
    for (const rule of targeting) {
      const target = rule.Properties.Targets.find((t: any) => t.Arn?.['Fn::GetAtt'] && logicalIdOf(t.Arn, 'Fn::GetAtt') === fnId);
      expect(target.RetryPolicy).toEqual({
        MaximumRetryAttempts: consumer.source.targetRetry.maximumRetryAttempts,
        MaximumEventAgeInSeconds: consumer.source.targetRetry.maximumEventAgeInSeconds,
      });
    }
    const invokeConfigs = Object.values(view.resources).filter(
      (resource) => resource.Type === 'AWS::Lambda::EventInvokeConfig' && logicalIdOf(resource.Properties.FunctionName, 'Ref') === fnId,
    );
    expect(invokeConfigs.map((config) => config.Properties.MaximumRetryAttempts)).toEqual([consumer.source.asyncRetryAttempts]);
  });
});
