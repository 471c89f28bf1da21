import { toJsonSchema } from '@valibot/to-json-schema';
import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import * as v from 'valibot';
import { ACCESS_CODE_EVENT_TYPES, EVENT_SOURCE, EventEnvelopeSchema, type AccessCodeEventType } from '../../functions/contracts/events';

/**
 * The `data` of each event type (spec: access_code_events.md), loose like the envelope so that a
 * field added later is not a breaking change for generated bindings. access_code.expired's data
 * is owned by the expiry work: only its plan is promised here.
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

/** Properties of EventConsumers. */
export interface EventConsumersProps {
  readonly bus: events.EventBus;
  readonly stage: string;
  /** Accounts that may put rules of their own on the bus (stage config `consumerAccounts`). */
  readonly consumerAccounts: readonly string[];
}

/**
 * The bus as a product for AWS-native consumers: each configured account may manage rules of its
 * own on it (and only those: `events:creatorAccount`), and the three event types are published
 * in a schema registry, generated from the same valibot envelope, for code bindings.
 */
export class EventConsumers extends Construct {
  /** The registry holding one schema per event type. */
  readonly registry: eventschemas.CfnRegistry;
  /** The schemas, by event type. */
  readonly schemas: ReadonlyMap<AccessCodeEventType, eventschemas.CfnSchema>;

  constructor(scope: Construct, id: string, props: EventConsumersProps) {
    super(scope, id);
    const stack = Stack.of(this);
    props.consumerAccounts.forEach((account) => {
      props.bus.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `ConsumerRules${account}`,
          principals: [new iam.AccountPrincipal(account)],
          actions: [...CONSUMER_RULE_ACTIONS],
          resources: [stack.formatArn({ service: 'events', resource: 'rule', resourceName: `${props.bus.eventBusName}/*` })],
          // Only rules that account created: it can neither see nor change the service's own.
          conditions: { StringEqualsIfExists: { 'events:creatorAccount': account } },
        }),
      );
    });

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
