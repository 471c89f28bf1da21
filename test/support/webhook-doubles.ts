import { randomUUID } from 'node:crypto';
import { indexKeys, keys } from '../../functions/contracts/table';
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
  type WebhookRetryScheduler,
} from '../../functions/domain/ports';
import {
  CLAIM_LEASE_SECONDS,
  MAX_STORED_ATTEMPTS,
  deliveryIdFor,
  initialSecrets,
  newWebhookEndpointId,
  rotateSecrets,
  sweepCheckAt,
  type DeliveryStatus,
  type EndpointDisabledReason,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEvent,
} from '../../functions/domain/webhooks';

/** A listing's position as DynamoDB gives it: the item's table key and its gsi1 key. */
const positionOf = (tableKey: { pk: string; sk: string }, indexKey: { gsi1pk: string; gsi1sk: string }): WebhookListPosition => ({
  ...tableKey,
  ...indexKey,
});

/** DynamoDB's order of string keys (by code unit, not by locale). */
const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The gsi1 sort key `position` resumes after, when it is a position of partition `gsi1pk`. */
const resumeAfter = (position: WebhookListPosition, gsi1pk: string): string => {
  const key = position as Record<string, unknown>;
  const names = ['pk', 'sk', 'gsi1pk', 'gsi1sk'];
  if (key !== null && typeof key === 'object' && Object.keys(key).length === names.length && names.every((name) => typeof key[name] === 'string') && key.gsi1pk === gsi1pk) {
    return key.gsi1sk as string;
  }
  throw new InvalidWebhookCursorError('cursor is not one this listing returned');
};

/**
 * Both webhook store ports in memory, one model of the one table DynamoWebhookStore keeps:
 * an attempt claimed once under a lease, recorded once under its claim, only while pending; the
 * last `MAX_STORED_ATTEMPTS` attempts kept; endpoint writes of the delivery side never recreate
 * a deleted endpoint; listings read in index order with DynamoDB's paging (a page that reads
 * `limit` items has a `next`, even when nothing follows; a status filter applies after the
 * read). Not modelled: the deliveries' TTL. Contracts: test/support/webhook-store-harness.ts
 * (delivery side) and test/adapters/webhook-endpoint-store.test.ts (management side).
 */
export class InMemoryWebhookDeliveryStore implements WebhookDeliveryStore, WebhookEndpointStore {
  readonly endpoints = new Map<string, WebhookEndpoint>();
  readonly deliveries = new Map<string, WebhookDelivery>();
  readonly attempts = new Map<string, WebhookAttempt[]>();
  /** Per delivery: its claim and when the sweep should look at it (the due index). */
  private readonly claims = new Map<string, { id: string; until: string }>();
  private readonly checkAt = new Map<string, string>();

  addEndpoint(endpoint: WebhookEndpoint): void {
    this.endpoints.set(endpoint.id, structuredClone(endpoint));
  }

  addDelivery(delivery: WebhookDelivery): void {
    const due = delivery.nextAttemptAt ?? delivery.createdAt;
    this.deliveries.set(delivery.id, { ...structuredClone(delivery), nextAttemptAt: due });
    this.attempts.set(delivery.id, []);
    this.checkAt.set(delivery.id, sweepCheckAt(due, true));
  }

  async claimAttempt(deliveryId: string, at: Date, attempt?: number): Promise<ClaimResult> {
    const delivery = this.deliveries.get(deliveryId);
    const now = at.toISOString();
    if (!delivery) return { claimed: false, reason: 'not-found' };
    if (delivery.status !== 'pending') return { claimed: false, reason: 'finished' };
    if (attempt !== undefined && delivery.attemptCount >= attempt) return { claimed: false, reason: 'stale' };
    const claim = this.claims.get(deliveryId);
    if (claim && claim.until > now) return { claimed: false, reason: 'claimed' };
    if (delivery.nextAttemptAt !== null && delivery.nextAttemptAt > now) return { claimed: false, reason: 'not-due', dueAt: delivery.nextAttemptAt };
    if (attempt !== undefined && delivery.attemptCount !== attempt - 1) return { claimed: false, reason: 'claimed' };
    const until = new Date(at.getTime() + CLAIM_LEASE_SECONDS * 1000).toISOString();
    const id = randomUUID();
    this.claims.set(deliveryId, { id, until });
    this.checkAt.set(deliveryId, until);
    return { claimed: true, delivery: structuredClone(delivery), claimId: id };
  }

  async getEndpoint(endpointId: string): Promise<WebhookEndpoint | undefined> {
    const endpoint = this.endpoints.get(endpointId);
    return endpoint && structuredClone(endpoint);
  }

  async recordAttempt(deliveryId: string, claimId: string, attempt: WebhookAttempt, then: DeliveryStateAfterAttempt): Promise<boolean> {
    const delivery = this.deliveries.get(deliveryId);
    if (!delivery || delivery.status !== 'pending' || delivery.attemptCount !== attempt.attempt - 1) return false;
    if (this.claims.get(deliveryId)?.id !== claimId) return false;
    this.claims.delete(deliveryId);
    const attempts = this.attempts.get(deliveryId)!;
    attempts.push(structuredClone(attempt));
    // The table keeps a ring of the last MAX_STORED_ATTEMPTS.
    if (attempts.length > MAX_STORED_ATTEMPTS) attempts.shift();
    delivery.attemptCount = attempt.attempt;
    delivery.status = then.status;
    delivery.nextAttemptAt = then.status === 'pending' ? then.nextAttemptAt : null;
    delivery.failureReason = then.status === 'failed' ? then.reason : null;
    if (then.status === 'pending') this.checkAt.set(deliveryId, then.checkAt);
    else this.checkAt.delete(deliveryId);
    return true;
  }

  async markFailed(deliveryId: string, claimId: string, reason: string): Promise<void> {
    const delivery = this.deliveries.get(deliveryId);
    if (!delivery || delivery.status !== 'pending' || this.claims.get(deliveryId)?.id !== claimId) return;
    this.claims.delete(deliveryId);
    this.checkAt.delete(deliveryId);
    delivery.status = 'failed';
    delivery.nextAttemptAt = null;
    delivery.failureReason = reason;
  }

  async dueDeliveries(at: Date, limit: number): Promise<DueDelivery[]> {
    const now = at.toISOString();
    return [...this.checkAt.entries()]
      .filter(([, checkAt]) => checkAt <= now)
      .sort(([, a], [, b]) => a.localeCompare(b))
      .slice(0, limit)
      .map(([deliveryId]) => {
        const delivery = this.deliveries.get(deliveryId)!;
        return { deliveryId, endpointId: delivery.endpointId, attempt: delivery.attemptCount + 1 };
      });
  }

  async recordEndpointSuccess(endpointId: string, at: Date): Promise<void> {
    const endpoint = this.endpoints.get(endpointId);
    if (!endpoint) return;
    endpoint.lastSuccessAt = at.toISOString();
    endpoint.failingSince = null;
  }

  async recordEndpointFailure(endpointId: string, at: Date): Promise<string> {
    const endpoint = this.endpoints.get(endpointId);
    // A deleted endpoint: nothing to record; its streak would start now.
    if (!endpoint) return at.toISOString();
    endpoint.failingSince ??= at.toISOString();
    return endpoint.failingSince;
  }

  async disableEndpoint(endpointId: string, reason: EndpointDisabledReason, at: Date): Promise<void> {
    const endpoint = this.endpoints.get(endpointId);
    if (!endpoint || !endpoint.enabled) return;
    endpoint.enabled = false;
    endpoint.disabledReason = reason;
    endpoint.disabledAt = at.toISOString();
  }

  // -- the management side (WebhookEndpointStore) --

  async createEndpoint(endpoint: WebhookEndpoint): Promise<void> {
    if (this.endpoints.has(endpoint.id)) throw new Error(`endpoint ${endpoint.id} exists (the conditional put fails)`);
    this.addEndpoint(endpoint);
  }

  async listEndpoints(projectId: string, page: { limit: number; after?: WebhookListPosition }): Promise<WebhookPage<WebhookEndpoint>> {
    const { gsi1pk } = indexKeys.projectWebhookEndpoint(projectId, '');
    const after = page.after ? resumeAfter(page.after, gsi1pk) : undefined;
    const read = [...this.endpoints.values()]
      .map((endpoint) => ({ endpoint, index: indexKeys.projectWebhookEndpoint(endpoint.projectId, endpoint.id) }))
      .filter(({ index }) => index.gsi1pk === gsi1pk && (after === undefined || index.gsi1sk > after))
      .sort((a, b) => byKey(a.index.gsi1sk, b.index.gsi1sk))
      .slice(0, page.limit);
    const last = read.length === page.limit ? read.at(-1) : undefined;
    return {
      items: read.map(({ endpoint }) => structuredClone(endpoint)),
      next: last ? positionOf(keys.webhookEndpoint(last.endpoint.id), last.index) : null,
    };
  }

  async projectEndpoints(projectId: string): Promise<WebhookEndpoint[]> {
    return (await this.listEndpoints(projectId, { limit: Number.MAX_SAFE_INTEGER })).items;
  }

  async updateEndpoint(endpointId: string, changes: EndpointChanges, at: Date): Promise<WebhookEndpoint | undefined> {
    const endpoint = this.endpoints.get(endpointId);
    if (!endpoint) return undefined;
    if (changes.url !== undefined) endpoint.url = changes.url;
    if (changes.events !== undefined) endpoint.events = structuredClone(changes.events);
    if (changes.description !== undefined) endpoint.description = changes.description;
    if (changes.enabled === true) {
      endpoint.enabled = true;
      endpoint.disabledAt = null;
      endpoint.disabledReason = null;
      endpoint.failingSince = null;
    } else if (changes.enabled === false) {
      endpoint.enabled = false;
      endpoint.disabledAt ??= at.toISOString();
      endpoint.disabledReason ??= 'manual';
    }
    return structuredClone(endpoint);
  }

  async deleteEndpoint(endpointId: string): Promise<void> {
    this.endpoints.delete(endpointId);
  }

  async rotateSecret(endpointId: string, secret: string, at: Date): Promise<WebhookEndpoint | undefined> {
    const endpoint = this.endpoints.get(endpointId);
    if (!endpoint) return undefined;
    endpoint.secrets = rotateSecrets(endpoint.secrets, secret, at);
    return structuredClone(endpoint);
  }

  async createDeliveryIfAbsent(delivery: WebhookDelivery): Promise<boolean> {
    if (this.deliveries.has(delivery.id)) return false;
    this.addDelivery(delivery);
    return true;
  }

  async getDeliveryWithAttempts(deliveryId: string): Promise<DeliveryWithAttempts | undefined> {
    const delivery = this.deliveries.get(deliveryId);
    return delivery && { delivery: structuredClone(delivery), attempts: structuredClone(this.attempts.get(deliveryId) ?? []) };
  }

  async listDeliveries(
    endpointId: string,
    page: { limit: number; after?: WebhookListPosition; status?: DeliveryStatus },
  ): Promise<WebhookPage<DeliveryWithAttempts>> {
    const { gsi1pk } = indexKeys.endpointDelivery(endpointId, '', '');
    const newestFirst = [...this.deliveries.values()]
      .map((delivery) => ({ delivery, index: indexKeys.endpointDelivery(delivery.endpointId, delivery.createdAt, delivery.id) }))
      .filter(({ index }) => index.gsi1pk === gsi1pk)
      .sort((a, b) => byKey(b.index.gsi1sk, a.index.gsi1sk));
    let after = page.after ? resumeAfter(page.after, gsi1pk) : undefined;
    const items: DeliveryWithAttempts[] = [];
    // As DynamoDB: each read takes up to what the page still needs, then filters; it stops where it read last.
    do {
      const wanted = page.limit - items.length;
      const read = newestFirst.filter(({ index }) => after === undefined || index.gsi1sk < after).slice(0, wanted);
      for (const { delivery } of read) {
        if (!page.status || delivery.status === page.status) items.push((await this.getDeliveryWithAttempts(delivery.id))!);
      }
      after = read.length === wanted ? read.at(-1)!.index.gsi1sk : undefined;
    } while (after !== undefined && items.length < page.limit);
    const last = after === undefined ? undefined : newestFirst.find(({ index }) => index.gsi1sk === after)!;
    return { items, next: last ? positionOf(keys.webhookDelivery(last.delivery.id), last.index) : null };
  }

  async reopenDelivery(deliveryId: string, at: Date): Promise<boolean> {
    const delivery = this.deliveries.get(deliveryId);
    if (!delivery || delivery.status !== 'failed') return false;
    const due = at.toISOString();
    delivery.status = 'pending';
    delivery.nextAttemptAt = due;
    delivery.failureReason = null;
    this.checkAt.set(deliveryId, sweepCheckAt(due, true));
    return true;
  }
}

/** A scheduler that keeps what it was asked, for the test to play the queue. */
export class RecordingScheduler implements WebhookRetryScheduler {
  readonly scheduled: Array<{ deliveryId: string; delaySeconds: number; attempt?: number; endpointId?: string }> = [];
  /** When set, the next call throws it (a crash before the retry is queued). */
  failNext: Error | undefined;

  async scheduleRetry(deliveryId: string, delaySeconds: number, target: { attempt?: number; endpointId?: string } = {}): Promise<void> {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.scheduled.push({ deliveryId, delaySeconds, ...target });
  }
}

/** An enabled endpoint of project `prj_test` subscribed to everything. */
export const anEndpoint = (url: string, secret: string, now: Date, overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint => ({
  id: newWebhookEndpointId(),
  teamId: 'tea_test',
  projectId: 'prj_test',
  url,
  events: ['access_code.*'],
  description: null,
  enabled: true,
  disabledAt: null,
  disabledReason: null,
  secrets: initialSecrets(secret, now),
  createdAt: now.toISOString(),
  lastSuccessAt: null,
  failingSince: null,
  ...overrides,
});

/** A pending, never attempted delivery of a generated event to `endpoint`. */
export const aDelivery = (endpoint: WebhookEndpoint, now: Date, eventId = `evt_${Math.random().toString(36).slice(2)}`): WebhookDelivery => {
  const event: WebhookEvent = {
    id: eventId,
    type: 'access_code.generated',
    created_at: now.toISOString(),
    api_version: '2026-05-01',
    project_id: endpoint.projectId,
    data: { batch_id: 'btc_test', plan_id: 'pln_test', count: 250, expires_at: null },
  };
  return {
    id: deliveryIdFor(eventId, endpoint.id),
    endpointId: endpoint.id,
    projectId: endpoint.projectId,
    eventId,
    eventType: event.type,
    event,
    status: 'pending',
    attemptCount: 0,
    nextAttemptAt: null,
    failureReason: null,
    createdAt: now.toISOString(),
  };
};
