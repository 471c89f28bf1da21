import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { WEBHOOK_ENDPOINT_SK_PREFIX, indexKeys, keys } from '../../contracts/table';
import { randomUUID } from 'node:crypto';
import {
  InvalidWebhookCursorError,
  type ClaimResult,
  type DeliveryStateAfterAttempt,
  type DeliveryWithAttempts,
  type DueDelivery,
  type EndpointChanges,
  type WebhookDeliveryStore,
  type WebhookEndpointStore,
  type WebhookListPosition,
  type WebhookPage,
} from '../../domain/ports';
import {
  CLAIM_LEASE_SECONDS,
  DELIVERY_RETENTION_DAYS,
  MAX_STORED_ATTEMPTS,
  rotateSecrets,
  sweepCheckAt,
  type DeliveryStatus,
  type EndpointDisabledReason,
  type EventSubscription,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEvent,
  type WebhookEventType,
  type WebhookSecret,
} from '../../domain/webhooks';

type Item = Record<string, unknown>;

const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException;

/** A rotation that keeps losing its conditional write to concurrent ones gives up after this many tries. */
const ROTATION_TRIES = 5;

// ---- item mapping ------------------------------------------------------------------------

const endpointItem = (endpoint: WebhookEndpoint): Item => ({
  ...keys.webhookEndpoint(endpoint.id),
  ...indexKeys.projectWebhookEndpoint(endpoint.projectId, endpoint.id),
  type: 'webhook_endpoint',
  endpoint_id: endpoint.id,
  team_id: endpoint.teamId,
  project_id: endpoint.projectId,
  url: endpoint.url,
  events: endpoint.events,
  description: endpoint.description ?? undefined,
  enabled: endpoint.enabled,
  disabled_at: endpoint.disabledAt ?? undefined,
  disabled_reason: endpoint.disabledReason ?? undefined,
  secrets: endpoint.secrets.map(secretItem),
  // Bumped by each rotation: the condition that keeps two concurrent rotations from losing a secret.
  secrets_version: 0,
  created_at: endpoint.createdAt,
  last_success_at: endpoint.lastSuccessAt ?? undefined,
  failing_since: endpoint.failingSince ?? undefined,
});

const secretItem = (secret: WebhookSecret): Item => ({
  secret: secret.secret,
  created_at: secret.createdAt,
  expires_at: secret.expiresAt ?? undefined,
});

const optional = (value: unknown): string | null => (typeof value === 'string' ? value : null);

const endpointFromItem = (item: Item): WebhookEndpoint => ({
  id: item.endpoint_id as string,
  teamId: item.team_id as string,
  projectId: item.project_id as string,
  url: item.url as string,
  events: item.events as EventSubscription[],
  description: optional(item.description),
  enabled: item.enabled as boolean,
  disabledAt: optional(item.disabled_at),
  disabledReason: optional(item.disabled_reason) as EndpointDisabledReason | null,
  secrets: (item.secrets as Item[]).map((s) => ({
    secret: s.secret as string,
    createdAt: s.created_at as string,
    expiresAt: optional(s.expires_at),
  })),
  createdAt: item.created_at as string,
  lastSuccessAt: optional(item.last_success_at),
  failingSince: optional(item.failing_since),
});

const attemptItem = (attempt: WebhookAttempt): Item => ({
  attempt: attempt.attempt,
  at: attempt.at,
  status: attempt.status,
  duration_ms: attempt.durationMs,
  error: attempt.error,
  response_snippet: attempt.responseSnippet,
  outcome: attempt.outcome,
});

const attemptFromItem = (item: Item): WebhookAttempt => ({
  attempt: item.attempt as number,
  at: item.at as string,
  status: (item.status as number | null | undefined) ?? null,
  durationMs: item.duration_ms as number,
  ...(typeof item.error === 'string' ? { error: item.error } : {}),
  responseSnippet: (item.response_snippet as string | undefined) ?? '',
  outcome: item.outcome as WebhookAttempt['outcome'],
});

/**
 * Attempts live in a map used as a ring of `MAX_STORED_ATTEMPTS` slots: attempt n goes to slot
 * n mod the cap, overwriting the oldest, so that recording one stays a single SET on one path.
 */
const attemptSlot = (attemptNumber: number) => `a${attemptNumber % MAX_STORED_ATTEMPTS}`;

const deliveryFromItem = (item: Item): DeliveryWithAttempts => ({
  delivery: {
    id: item.delivery_id as string,
    endpointId: item.endpoint_id as string,
    projectId: item.project_id as string,
    eventId: item.event_id as string,
    eventType: item.event_type as WebhookEventType,
    event: item.event as WebhookEvent,
    status: item.status as DeliveryStatus,
    attemptCount: item.attempt_count as number,
    nextAttemptAt: optional(item.next_attempt_at),
    failureReason: optional(item.failure_reason),
    createdAt: item.created_at as string,
  },
  attempts: Object.values((item.attempts as Record<string, Item> | undefined) ?? {})
    .map(attemptFromItem)
    .sort((a, b) => a.attempt - b.attempt),
});

const POSITION_NAMES = ['pk', 'sk', 'gsi1pk', 'gsi1sk'];

/** `position` as a start key, which must be a key of partition `gsi1pk` of gsi1. */
const startKey = (position: WebhookListPosition, gsi1pk: string): Item => {
  const key = position as Item;
  if (
    key !== null &&
    typeof key === 'object' &&
    Object.keys(key).length === POSITION_NAMES.length &&
    POSITION_NAMES.every((name) => typeof key[name] === 'string') &&
    key.gsi1pk === gsi1pk
  ) {
    return key;
  }
  throw new InvalidWebhookCursorError('cursor is not one this listing returned');
};

/** Where a query stopped, as a listing position. */
const positionOf = (key: Item | undefined): WebhookListPosition | null =>
  key ? Object.fromEntries(POSITION_NAMES.map((name) => [name, String(key[name])])) : null;

/**
 * Partitions of the due index (gsi3) that pending deliveries are spread over: every attempt
 * moves its delivery's key once or twice, so at 1,000 attempts/s about 250 index writes/s a
 * partition, a quarter of one's 1,000. The sweep reads all of them.
 */
export const WEBHOOK_DUE_BUCKETS = 8;

/** The gsi3 partition of one due bucket. */
const duePartition = (bucket: number) => `WHDUE#${bucket}`;

/** A delivery's due bucket: its id is a hash already, so one character spreads them. */
const dueBucket = (deliveryId: string) => (deliveryId.charCodeAt(deliveryId.length - 1) ?? 0) % WEBHOOK_DUE_BUCKETS;

/** The due index keys of a pending delivery the sweep should look at from `checkAt`. */
const dueKeys = (deliveryId: string, checkAt: string) => ({ gsi3pk: duePartition(dueBucket(deliveryId)), gsi3sk: `${checkAt}#${deliveryId}` });

// ---- the store ---------------------------------------------------------------------------

/** Options of the DynamoDB webhook store. */
export interface DynamoWebhookStoreOptions {
  /**
   * Days after its creation that a delivery expires (DynamoDB TTL); default
   * `DELIVERY_RETENTION_DAYS`. Tests on a fake clock set in the past lengthen it, or DynamoDB
   * Local would expire their deliveries at once.
   */
  deliveryRetentionDays?: number;
}

/** Webhook endpoints and deliveries in the service's DynamoDB table. */
export class DynamoWebhookStore implements WebhookDeliveryStore, WebhookEndpointStore {
  private readonly retentionSeconds: number;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoWebhookStoreOptions = {},
  ) {
    this.retentionSeconds = (options.deliveryRetentionDays ?? DELIVERY_RETENTION_DAYS) * 86_400;
  }

  private async get(key: Item): Promise<Item | undefined> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return Item;
  }

  /** An update that does nothing when its condition fails; returns whether it held. */
  private async conditionalUpdate(input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>): Promise<Item | false> {
    try {
      const { Attributes } = await this.db.send(new UpdateCommand({ TableName: this.tableName, ...input }));
      return Attributes ?? {};
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  // -- delivery side (WebhookDeliveryStore) --

  async claimAttempt(deliveryId: string, at: Date, attempt?: number): Promise<ClaimResult> {
    const now = at.toISOString();
    const until = new Date(at.getTime() + CLAIM_LEASE_SECONDS * 1000).toISOString();
    const claimId = randomUUID();
    const claimed = await this.conditionalUpdate({
      Key: keys.webhookDelivery(deliveryId),
      // The due index moves to the lease's end: if the claimant dies, the sweep finds it then.
      UpdateExpression: 'SET claim_id = :claim, claim_until = :until, gsi3sk = :sk',
      ConditionExpression:
        '#status = :pending AND next_attempt_at <= :now AND (attribute_not_exists(claim_until) OR claim_until <= :now)' +
        (attempt === undefined ? '' : ' AND attempt_count = :previous'),
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':claim': claimId,
        ':until': until,
        ':sk': dueKeys(deliveryId, until).gsi3sk,
        ':pending': 'pending',
        ':now': now,
        ...(attempt === undefined ? {} : { ':previous': attempt - 1 }),
      },
      ReturnValues: 'ALL_NEW',
    });
    if (claimed !== false) return { claimed: true, delivery: deliveryFromItem(claimed).delivery, claimId };
    // Why not: read once (only on this path, which a healthy flow takes for duplicates only).
    const item = await this.get(keys.webhookDelivery(deliveryId));
    if (!item) return { claimed: false, reason: 'not-found' };
    if (item.status !== 'pending') return { claimed: false, reason: 'finished' };
    if (attempt !== undefined && (item.attempt_count as number) >= attempt) return { claimed: false, reason: 'stale' };
    if (typeof item.claim_until === 'string' && item.claim_until > now) return { claimed: false, reason: 'claimed' };
    if (typeof item.next_attempt_at === 'string' && item.next_attempt_at > now) return { claimed: false, reason: 'not-due', dueAt: item.next_attempt_at };
    return { claimed: false, reason: 'claimed' };
  }

  async recordAttempt(deliveryId: string, claimId: string, attempt: WebhookAttempt, then: DeliveryStateAfterAttempt): Promise<boolean> {
    const sets = ['#status = :status', 'attempt_count = :count', 'attempts.#slot = :attempt'];
    const removes: string[] = ['claim_id', 'claim_until'];
    const values: Item = {
      ':status': then.status,
      ':count': attempt.attempt,
      ':attempt': attemptItem(attempt),
      ':pending': 'pending',
      ':previous': attempt.attempt - 1,
      ':claim': claimId,
    };
    if (then.status === 'pending') {
      sets.push('next_attempt_at = :next', 'gsi3sk = :sk');
      values[':next'] = then.nextAttemptAt;
      values[':sk'] = dueKeys(deliveryId, then.checkAt).gsi3sk;
    } else {
      // A finished delivery leaves the due index: the sweep reads what is pending only.
      removes.push('next_attempt_at', 'gsi3pk', 'gsi3sk');
    }
    if (then.status === 'failed') {
      sets.push('failure_reason = :reason');
      values[':reason'] = then.reason;
    } else {
      removes.push('failure_reason');
    }
    const held = await this.conditionalUpdate({
      Key: keys.webhookDelivery(deliveryId),
      UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
      ConditionExpression: '#status = :pending AND attempt_count = :previous AND claim_id = :claim',
      ExpressionAttributeNames: { '#status': 'status', '#slot': attemptSlot(attempt.attempt) },
      ExpressionAttributeValues: values,
    });
    return held !== false;
  }

  async dueDeliveries(at: Date, limit: number): Promise<DueDelivery[]> {
    const bound = `${at.toISOString()}#~`;
    const perBucket = Math.max(1, Math.ceil(limit / WEBHOOK_DUE_BUCKETS));
    const pages = await Promise.all(
      Array.from({ length: WEBHOOK_DUE_BUCKETS }, (_, bucket) =>
        this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: 'gsi3',
            KeyConditionExpression: 'gsi3pk = :pk AND gsi3sk <= :bound',
            ExpressionAttributeValues: { ':pk': duePartition(bucket), ':bound': bound },
            Limit: perBucket,
          }),
        ),
      ),
    );
    return pages
      .flatMap((page) => page.Items ?? [])
      .filter((item) => item.status === 'pending')
      .slice(0, limit)
      .map((item) => ({ deliveryId: item.delivery_id as string, endpointId: item.endpoint_id as string, attempt: (item.attempt_count as number) + 1 }));
  }

  async markFailed(deliveryId: string, claimId: string, reason: string): Promise<void> {
    await this.conditionalUpdate({
      Key: keys.webhookDelivery(deliveryId),
      UpdateExpression: 'SET #status = :failed, failure_reason = :reason REMOVE next_attempt_at, claim_id, claim_until, gsi3pk, gsi3sk',
      ConditionExpression: '#status = :pending AND claim_id = :claim',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':failed': 'failed', ':reason': reason, ':pending': 'pending', ':claim': claimId },
    });
  }

  async recordEndpointSuccess(endpointId: string, at: Date): Promise<void> {
    await this.conditionalUpdate({
      Key: keys.webhookEndpoint(endpointId),
      UpdateExpression: 'SET last_success_at = :at REMOVE failing_since',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':at': at.toISOString() },
    });
  }

  async recordEndpointFailure(endpointId: string, at: Date): Promise<string> {
    const updated = await this.conditionalUpdate({
      Key: keys.webhookEndpoint(endpointId),
      UpdateExpression: 'SET failing_since = if_not_exists(failing_since, :at)',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':at': at.toISOString() },
      ReturnValues: 'UPDATED_NEW',
    });
    // A deleted endpoint: nothing to record; its streak would start now.
    return updated === false ? at.toISOString() : (updated.failing_since as string);
  }

  async disableEndpoint(endpointId: string, reason: EndpointDisabledReason, at: Date): Promise<void> {
    await this.conditionalUpdate({
      Key: keys.webhookEndpoint(endpointId),
      UpdateExpression: 'SET enabled = :false, disabled_at = :at, disabled_reason = :reason',
      ConditionExpression: 'enabled = :true',
      ExpressionAttributeValues: { ':false': false, ':true': true, ':at': at.toISOString(), ':reason': reason },
    });
  }

  // -- endpoints (WebhookEndpointStore) --

  async createEndpoint(endpoint: WebhookEndpoint): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.tableName, Item: endpointItem(endpoint), ConditionExpression: 'attribute_not_exists(pk)' }),
    );
  }

  async getEndpoint(endpointId: string): Promise<WebhookEndpoint | undefined> {
    const item = await this.get(keys.webhookEndpoint(endpointId));
    return item && endpointFromItem(item);
  }

  async listEndpoints(projectId: string, page: { limit: number; after?: WebhookListPosition }): Promise<WebhookPage<WebhookEndpoint>> {
    const { gsi1pk } = indexKeys.projectWebhookEndpoint(projectId, '');
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
        ExpressionAttributeValues: { ':pk': gsi1pk, ':prefix': WEBHOOK_ENDPOINT_SK_PREFIX },
        Limit: page.limit,
        ...(page.after ? { ExclusiveStartKey: startKey(page.after, gsi1pk) } : {}),
      }),
    );
    return { items: (result.Items ?? []).map(endpointFromItem), next: positionOf(result.LastEvaluatedKey) };
  }

  async projectEndpoints(projectId: string): Promise<WebhookEndpoint[]> {
    const endpoints: WebhookEndpoint[] = [];
    let after: WebhookListPosition | undefined;
    do {
      const page = await this.listEndpoints(projectId, { limit: 100, ...(after ? { after } : {}) });
      endpoints.push(...page.items);
      after = page.next ?? undefined;
    } while (after);
    return endpoints;
  }

  async updateEndpoint(endpointId: string, changes: EndpointChanges, at: Date): Promise<WebhookEndpoint | undefined> {
    const sets: string[] = [];
    const removes: string[] = [];
    const values: Item = {};
    if (changes.url !== undefined) {
      sets.push('#url = :url');
      values[':url'] = changes.url;
    }
    if (changes.events !== undefined) {
      sets.push('events = :events');
      values[':events'] = changes.events;
    }
    if (changes.description === null) removes.push('description');
    else if (changes.description !== undefined) {
      sets.push('description = :description');
      values[':description'] = changes.description;
    }
    if (changes.enabled === true) {
      // Re-enabling starts afresh: no disabled state, and no failing streak that would disable it
      // again at its first failure.
      sets.push('enabled = :true');
      values[':true'] = true;
      removes.push('disabled_at', 'disabled_reason', 'failing_since');
    } else if (changes.enabled === false) {
      // An endpoint already disabled (410, failing) keeps its own reason and time.
      sets.push('enabled = :false', 'disabled_at = if_not_exists(disabled_at, :at)', 'disabled_reason = if_not_exists(disabled_reason, :manual)');
      values[':false'] = false;
      values[':at'] = at.toISOString();
      values[':manual'] = 'manual';
    }
    if (sets.length === 0 && removes.length === 0) return this.getEndpoint(endpointId);
    const updated = await this.conditionalUpdate({
      Key: keys.webhookEndpoint(endpointId),
      UpdateExpression: [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''].join(' ').trim(),
      ConditionExpression: 'attribute_exists(pk)',
      ...(changes.url !== undefined ? { ExpressionAttributeNames: { '#url': 'url' } } : {}),
      ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      ReturnValues: 'ALL_NEW',
    });
    return updated === false ? undefined : endpointFromItem(updated);
  }

  async deleteEndpoint(endpointId: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: keys.webhookEndpoint(endpointId) }));
  }

  async rotateSecret(endpointId: string, secret: string, at: Date): Promise<WebhookEndpoint | undefined> {
    for (let tries = 0; tries < ROTATION_TRIES; tries++) {
      const item = await this.get(keys.webhookEndpoint(endpointId));
      if (!item) return undefined;
      const version = (item.secrets_version as number | undefined) ?? 0;
      const secrets = rotateSecrets(endpointFromItem(item).secrets, secret, at);
      const updated = await this.conditionalUpdate({
        Key: keys.webhookEndpoint(endpointId),
        UpdateExpression: 'SET secrets = :secrets, secrets_version = :next',
        ConditionExpression: 'attribute_exists(pk) AND (secrets_version = :version OR attribute_not_exists(secrets_version))',
        ExpressionAttributeValues: { ':secrets': secrets.map(secretItem), ':next': version + 1, ':version': version },
        ReturnValues: 'ALL_NEW',
      });
      if (updated !== false) return endpointFromItem(updated);
    }
    throw new Error(`Rotating the secret of ${endpointId} lost to concurrent rotations ${ROTATION_TRIES} times.`);
  }

  // -- deliveries (WebhookEndpointStore) --

  async createDeliveryIfAbsent(delivery: WebhookDelivery): Promise<boolean> {
    const createdAtSeconds = Math.floor(Date.parse(delivery.createdAt) / 1000);
    const dueAt = delivery.nextAttemptAt ?? delivery.createdAt;
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.webhookDelivery(delivery.id),
            ...indexKeys.endpointDelivery(delivery.endpointId, delivery.createdAt, delivery.id),
            // Its first attempt goes on the queue; should that message be lost, the sweep finds it.
            ...dueKeys(delivery.id, sweepCheckAt(dueAt, true)),
            type: 'webhook_delivery',
            delivery_id: delivery.id,
            endpoint_id: delivery.endpointId,
            project_id: delivery.projectId,
            event_id: delivery.eventId,
            event_type: delivery.eventType,
            event: delivery.event,
            status: delivery.status,
            attempt_count: delivery.attemptCount,
            next_attempt_at: dueAt,
            failure_reason: delivery.failureReason ?? undefined,
            created_at: delivery.createdAt,
            attempts: {},
            ttl: createdAtSeconds + this.retentionSeconds,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return false;
    }
  }

  async getDeliveryWithAttempts(deliveryId: string): Promise<DeliveryWithAttempts | undefined> {
    const item = await this.get(keys.webhookDelivery(deliveryId));
    return item && deliveryFromItem(item);
  }

  async listDeliveries(
    endpointId: string,
    page: { limit: number; after?: WebhookListPosition; status?: DeliveryStatus },
  ): Promise<WebhookPage<DeliveryWithAttempts>> {
    const { gsi1pk } = indexKeys.endpointDelivery(endpointId, '', '');
    const items: Item[] = [];
    let start = page.after ? startKey(page.after, gsi1pk) : undefined;
    // A status filter is applied after DynamoDB reads (and counts) items, so a page may take
    // several queries; the cursor is where the last query stopped, whatever it matched.
    do {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': gsi1pk, ...(page.status ? { ':status': page.status } : {}) },
        ScanIndexForward: false,
        Limit: page.limit - items.length,
        ...(page.status ? { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } } : {}),
        ...(start ? { ExclusiveStartKey: start } : {}),
      };
      const result = await this.db.send(new QueryCommand(input));
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
    } while (start && items.length < page.limit);
    return { items: items.map(deliveryFromItem), next: positionOf(start) };
  }

  async reopenDelivery(deliveryId: string, at: Date): Promise<boolean> {
    const due = at.toISOString();
    const held = await this.conditionalUpdate({
      Key: keys.webhookDelivery(deliveryId),
      UpdateExpression: 'SET #status = :pending, next_attempt_at = :due, gsi3pk = :pk, gsi3sk = :sk REMOVE failure_reason',
      ConditionExpression: '#status = :failed',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':pending': 'pending', ':failed': 'failed', ':due': due, ...prefixed(dueKeys(deliveryId, sweepCheckAt(due, true))) },
    });
    return held !== false;
  }
}

/** `{gsi3pk, gsi3sk}` as expression values `:pk`, `:sk`. */
const prefixed = (due: { gsi3pk: string; gsi3sk: string }): Item => ({ ':pk': due.gsi3pk, ':sk': due.gsi3sk });
