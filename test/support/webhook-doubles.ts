import { randomUUID } from 'node:crypto';
import type { ClaimResult, DeliveryStateAfterAttempt, DueDelivery, WebhookDeliveryStore, WebhookRetryScheduler } from '../../functions/domain/ports';
import {
  CLAIM_LEASE_SECONDS,
  deliveryIdFor,
  initialSecrets,
  newWebhookEndpointId,
  sweepCheckAt,
  type EndpointDisabledReason,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEvent,
} from '../../functions/domain/webhooks';

/**
 * The delivery store port in memory, holding to the port's conditions (an attempt claimed once
 * under a lease, recorded once under its claim, only while pending) so that duplicate runs can
 * be tested. The delivery tests run over it and over the DynamoDB store alike
 * (test/support/webhook-store-harness.ts).
 */
export class InMemoryWebhookDeliveryStore implements WebhookDeliveryStore {
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
    this.attempts.get(deliveryId)!.push(structuredClone(attempt));
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
    const endpoint = this.endpoints.get(endpointId)!;
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
