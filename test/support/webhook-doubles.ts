import type { DeliveryStateAfterAttempt, WebhookDeliveryStore, WebhookRetryScheduler } from '../../functions/domain/webhook-ports';
import {
  deliveryIdFor,
  initialSecrets,
  newWebhookEndpointId,
  type EndpointDisabledReason,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEvent,
} from '../../functions/domain/webhooks';

/**
 * The delivery store port in memory, holding to the port's conditions (one attempt number
 * recorded once, only while pending) so that duplicate runs can be tested. The delivery tests
 * run over it and over the DynamoDB store alike (test/support/webhook-store-harness.ts).
 */
export class InMemoryWebhookDeliveryStore implements WebhookDeliveryStore {
  readonly endpoints = new Map<string, WebhookEndpoint>();
  readonly deliveries = new Map<string, WebhookDelivery>();
  readonly attempts = new Map<string, WebhookAttempt[]>();

  addEndpoint(endpoint: WebhookEndpoint): void {
    this.endpoints.set(endpoint.id, structuredClone(endpoint));
  }

  addDelivery(delivery: WebhookDelivery): void {
    this.deliveries.set(delivery.id, structuredClone(delivery));
    this.attempts.set(delivery.id, []);
  }

  async getDelivery(deliveryId: string) {
    const delivery = this.deliveries.get(deliveryId);
    const endpoint = delivery && this.endpoints.get(delivery.endpointId);
    if (!delivery || !endpoint) return undefined;
    return { delivery: structuredClone(delivery), endpoint: structuredClone(endpoint) };
  }

  async recordAttempt(deliveryId: string, attempt: WebhookAttempt, then: DeliveryStateAfterAttempt): Promise<boolean> {
    const delivery = this.deliveries.get(deliveryId);
    if (!delivery || delivery.status !== 'pending' || delivery.attemptCount !== attempt.attempt - 1) return false;
    this.attempts.get(deliveryId)!.push(structuredClone(attempt));
    delivery.attemptCount = attempt.attempt;
    delivery.status = then.status;
    delivery.nextAttemptAt = then.status === 'pending' ? then.nextAttemptAt : null;
    delivery.failureReason = then.status === 'failed' ? then.reason : null;
    return true;
  }

  async markFailed(deliveryId: string, reason: string): Promise<void> {
    const delivery = this.deliveries.get(deliveryId);
    if (!delivery || delivery.status !== 'pending') return;
    delivery.status = 'failed';
    delivery.nextAttemptAt = null;
    delivery.failureReason = reason;
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
  readonly scheduled: Array<{ deliveryId: string; delaySeconds: number }> = [];
  /** When set, the next call throws it (a crash before the retry is queued). */
  failNext: Error | undefined;

  async scheduleRetry(deliveryId: string, delaySeconds: number): Promise<void> {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.scheduled.push({ deliveryId, delaySeconds });
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
