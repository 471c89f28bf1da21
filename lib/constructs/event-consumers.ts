import { toJsonSchema } from '@valibot/to-json-schema';
import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import * as v from 'valibot';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { ACCESS_CODE_EVENT_TYPES, EVENT_SOURCE, EventEnvelopeSchema, type AccessCodeEventType } from '../../functions/contracts/events';
import type { TenantEventBus } from '../stages';

/**
 * The `data` of each event type (spec: access_code_events.md; access_code.expired's as
 * AccessCodeExpiredData), loose like the envelope so that a field added later is not a breaking
 * change for generated bindings.
 */
export const EVENT_DATA_SCHEMAS: Record<AccessCodeEventType, v.GenericSchema> = {
  'access_code.generated': v.looseObject({
    batch_id: v.string(),
    plan_id: v.string(),
    count: v.number(),
    expires_at: v.nullable(v.string()),
  }),
  'access_code.redeemed': v.looseObject({
    subscription_id: v.string(),
    plan_id: v.string(),
    subscriber_id: v.string(),
    access_code: v.string(),
  }),
  'access_code.expired': v.looseObject({
    plan_id: v.string(),
    batch_id: v.string(),
    access_code: v.string(),
    expires_at: v.string(),
  }),
};

/** Rewrites draft-07 `const` as draft-04 `enum` (EventBridge schemas are JSON Schema draft 4). */
const draft4 = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(draft4);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'const') out.enum = [value];
    else if (key !== '$schema') out[key] = draft4(value);
  }
  return out;
};

/**
 * The JSON Schema (draft 4) of one event type as EventBridge delivers it: the EventBridge event
 * whose `detail` is the service's envelope (EventEnvelopeSchema, with this type and its data).
 */
export const eventJsonSchema = (type: AccessCodeEventType): Record<string, unknown> => {
  const detail = v.looseObject({ ...EventEnvelopeSchema.entries, type: v.literal(type), data: EVENT_DATA_SCHEMAS[type] });
  const detailSchema = draft4(toJsonSchema(detail, { errorMode: 'ignore' }));
  return {
    $schema: 'http://json-schema.org/draft-04/schema#',
    title: type,
    type: 'object',
    required: ['source', 'detail-type', 'detail'],
    properties: {
      version: { type: 'string' },
      id: { type: 'string' },
      source: { enum: [EVENT_SOURCE] },
      'detail-type': { enum: [type] },
      account: { type: 'string' },
      time: { type: 'string' },
      region: { type: 'string' },
      resources: { type: 'array', items: { type: 'string' } },
      detail: detailSchema,
    },
  };
};

/** The EventBridge actions a consumer account may call on rules of its own on the bus. */
export const CONSUMER_RULE_ACTIONS = [
  'events:PutRule',
  'events:PutTargets',
  'events:DeleteRule',
  'events:RemoveTargets',
  'events:DisableRule',
  'events:EnableRule',
  'events:DescribeRule',
  'events:ListTargetsByRule',
  'events:TagResource',
  'events:UntagResource',
  'events:ListTagsForResource',
] as const;

/**
 * The name prefix of every rule the service itself puts on its bus (`memberpass-<stage>-`): the
 * event-target dead-letter queue accepts messages only from rules named so, and consumer
 * accounts may only create rules named after their own account id, so none of theirs can use it.
 */
export const serviceRulePrefix = (stage: string): string => `memberpass-${stage}-`;

/** The name of the rule that forwards one tenant's events to its bus. */
export const tenantRuleName = (stage: string, tenantId: string): string => `${serviceRulePrefix(stage)}tenant-${tenantId}`;

/** How EventBridge retries delivering to a tenant's bus before dead-lettering (as for the service's own rules). */
const TENANT_TARGET_RETRY = { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 } as const;

/** Properties of EventConsumers. */
export interface EventConsumersProps {
  readonly bus: events.EventBus;
  readonly stage: string;
  /** The operator's own accounts that may put rules of their own on the bus (every tenant's events). */
  readonly internalConsumerAccounts: readonly string[];
  /** Tenants that receive only their projects' events, on their own bus. */
  readonly tenantEventBuses: readonly TenantEventBus[];
  /** Where a tenant rule puts what it could not deliver after its retries. */
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * The bus as a product for AWS-native consumers, of two kinds:
 * - internal accounts (the operator's own) may manage rules of their own on the bus, named
 *   `<their account id>-…` and only those (`events:creatorAccount`): they can match every
 *   tenant's events, which is why only the operator's accounts are listed;
 * - tenants get a rule of the service's, matching only their `project_id`s, that forwards to
 *   their own bus: EventBridge's IAM keys cannot limit a consumer's own rule to a `detail`
 *   field, so a tenant never puts rules on this bus.
 * The three event types are published in a schema registry, generated from the same valibot
 * envelope, for code bindings (derived from the code, so not retained: a redeploy recreates it).
 */
export class EventConsumers extends Construct {
  /** The registry holding one schema per event type. */
  readonly registry: eventschemas.CfnRegistry;
  /** The schemas, by event type. */
  readonly schemas: ReadonlyMap<AccessCodeEventType, eventschemas.CfnSchema>;
  /** The forwarding rule of each tenant, by tenant id. */
  readonly tenantRules: ReadonlyMap<string, events.Rule>;

  constructor(scope: Construct, id: string, props: EventConsumersProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // The bus's name as the stateful stack gives it (`memberpass-<stage>`), literal in the policy.
    const ruleArn = (name: string) => stack.formatArn({ service: 'events', resource: 'rule', resourceName: `memberpass-${props.stage}/${name}` });
    props.internalConsumerAccounts.forEach((account) => {
      props.bus.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `ConsumerRules${account}`,
          principals: [new iam.AccountPrincipal(account)],
          actions: [...CONSUMER_RULE_ACTIONS],
          // Rules named after the account: never the service's prefix, which the dead-letter
          // queue trusts.
          resources: [ruleArn(`${account}-*`)],
          // Only rules that account created: it can neither see nor change the service's own.
          conditions: { StringEqualsIfExists: { 'events:creatorAccount': account } },
        }),
      );
    });

    const tenantRules = new Map<string, events.Rule>();
    for (const tenant of props.tenantEventBuses) {
      // A role per tenant, allowed to put events on that tenant's bus only.
      const role = new iam.Role(this, `Tenant${tenant.id}Role`, {
        assumedBy: new iam.ServicePrincipal('events.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
        description: `EventBridge: forwards the events of tenant ${tenant.id}'s projects to its bus`,
      });
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [tenant.eventBusArn] }));
      const rule = new events.Rule(this, `Tenant${tenant.id}Rule`, {
        eventBus: props.bus,
        ruleName: tenantRuleName(props.stage, tenant.id),
        description: `Forwards the events of tenant ${tenant.id}'s projects to its own bus`,
        eventPattern: { source: [EVENT_SOURCE], detail: { project_id: [...tenant.projectIds] } },
        targets: [
          {
            bind: () => ({
              arn: tenant.eventBusArn,
              role,
              retryPolicy: TENANT_TARGET_RETRY,
              deadLetterConfig: { arn: props.deadLetterQueue.queueArn },
            }),
          },
        ],
      });
      tenantRules.set(tenant.id, rule);
    }
    this.tenantRules = tenantRules;

    this.registry = new eventschemas.CfnRegistry(this, 'Registry', {
      registryName: `memberpass-${props.stage}`,
      description: `JSON Schemas of the MemberPass ${props.stage} events (source ${EVENT_SOURCE})`,
    });
    const schemas = new Map<AccessCodeEventType, eventschemas.CfnSchema>();
    for (const type of ACCESS_CODE_EVENT_TYPES) {
      const schema = new eventschemas.CfnSchema(this, `Schema${type.replace(/[^a-z]/gi, '')}`, {
        registryName: this.registry.attrRegistryName,
        schemaName: `${EVENT_SOURCE}@${type}`,
        type: 'JSONSchemaDraft4',
        description: `The ${type} event as EventBridge delivers it; detail is the event envelope.`,
        content: JSON.stringify(eventJsonSchema(type)),
      });
      schemas.set(type, schema);
    }
    this.schemas = schemas;
  }
}
