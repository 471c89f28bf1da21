import * as v from 'valibot';
import { EventEnvelopeSchema } from '../contracts/events';
import type { Clock } from '../domain/ports';
import type { WebhookEndpointStore, WebhookRetryScheduler } from '../domain/webhook-ports';
import { deliveryIdFor, subscribesTo, type WebhookDelivery, type WebhookEvent } from '../domain/webhooks';

/** Dependencies of dispatching one event to webhook endpoints. */
export interface DispatchWebhooksDeps {
  endpoints: WebhookEndpointStore;
  scheduler: WebhookRetryScheduler;
  clock: Clock;
}

/** One delivery the dispatch made or found. */
export interface DispatchedDelivery {
  deliveryId: string;
  endpointId: string;
  /** False when an earlier dispatch of the same event recorded it. */
  created: boolean;
  /** Whether this run sent its first queue message. */
  queuedNow: boolean;
}

/** What dispatching one event did. */
export interface DispatchWebhooksResult {
  eventId: string;
  deliveries: DispatchedDelivery[];
}

/** The bus handed over something that is not an event envelope; retrying cannot help. */
export class InvalidEventEnvelopeError extends Error {}

/** One or more deliveries could not be queued; the others were. Running the dispatch again queues the rest. */
export class WebhookDispatchError extends Error {
  constructor(
    readonly eventId: string,
    readonly causes: unknown[],
  ) {
    super(`${causes.length} webhook deliveries of ${eventId} could not be queued: ${String((causes[0] as Error)?.message ?? causes[0])}`);
    this.name = 'WebhookDispatchError';
  }
}

/**
 * Records and queues the webhook deliveries of one published event (EventBridge delivers at
 * least once, so every step holds when run again).
 * 1. Validate the envelope; one that is not valid is refused (the rule's retries and DLQ keep it).
 * 2. Find the project's enabled endpoints subscribed to the event's type.
 * 3. For each, independently: record the delivery under an id derived from event + endpoint,
 *    unless it exists (a second dispatch makes no second delivery).
 * 4. Queue its first attempt as its own message, so that one slow or dead endpoint never delays
 *    another, and note that it was queued. A crash before the note leaves it unqueued: the next
 *    dispatch queues it (a crash between send and note sends one extra message, which
 *    `deliverWebhook` absorbs: an attempt is recorded once, with the same `webhook-id`).
 * 5. If any delivery failed to record or queue, throw after all were tried, so the event is
 *    retried; those already queued are not queued again.
 */
export const dispatchWebhooks = async (deps: DispatchWebhooksDeps, detail: unknown): Promise<DispatchWebhooksResult> => {
  const parsed = v.safeParse(EventEnvelopeSchema, detail);
  if (!parsed.success) {
    throw new InvalidEventEnvelopeError(`Not an event envelope: ${parsed.issues.map((issue) => v.getDotPath(issue) ?? issue.message).join(', ')}`);
  }
  const event = parsed.output as WebhookEvent;
  const endpoints = (await deps.endpoints.projectEndpoints(event.project_id)).filter(
    (endpoint) => endpoint.enabled && subscribesTo(endpoint.events, event.type),
  );
  const now = deps.clock.now().toISOString();

  const settled = await Promise.allSettled(
    endpoints.map(async (endpoint): Promise<DispatchedDelivery> => {
      const delivery: WebhookDelivery = {
        id: deliveryIdFor(event.id, endpoint.id),
        endpointId: endpoint.id,
        projectId: event.project_id,
        eventId: event.id,
        eventType: event.type,
        event,
        status: 'pending',
        attemptCount: 0,
        nextAttemptAt: null,
        failureReason: null,
        createdAt: now,
      };
      const recorded = await deps.endpoints.createDeliveryIfAbsent(delivery);
      if (recorded.queued) return { deliveryId: delivery.id, endpointId: endpoint.id, created: recorded.created, queuedNow: false };
      await deps.scheduler.scheduleRetry(delivery.id, 0);
      await deps.endpoints.markQueued(delivery.id);
      return { deliveryId: delivery.id, endpointId: endpoint.id, created: recorded.created, queuedNow: true };
    }),
  );
  const failures = settled.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  if (failures.length > 0) throw new WebhookDispatchError(event.id, failures);
  return {
    eventId: event.id,
    deliveries: settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
  };
};
