import { parseEventEnvelope } from '../contracts/events';
import type { Clock, WebhookEndpointStore, WebhookRetryScheduler } from '../domain/ports';
import { deliveryIdFor, subscribesTo, type WebhookDelivery, type WebhookEndpoint, type WebhookEvent } from '../domain/webhooks';

/** How long a warm dispatcher reuses a project's endpoint list: a new endpoint gets events published from at most this long after its creation. */
export const ENDPOINT_CACHE_MS = 10_000;

/** Projects' endpoint lists, each kept for `ENDPOINT_CACHE_MS` (by the process's monotonic clock, not the business clock). */
export class ProjectEndpointsCache {
  private readonly entries = new Map<string, { endpoints: Promise<WebhookEndpoint[]>; until: number }>();

  constructor(
    private readonly ttlMs = ENDPOINT_CACHE_MS,
    /** Entries kept at most; the oldest go first. */
    private readonly maxEntries = 1_000,
  ) {}

  /** The project's endpoints, read through `load` at most once per `ttlMs`. */
  get(projectId: string, load: () => Promise<WebhookEndpoint[]>): Promise<WebhookEndpoint[]> {
    const now = performance.now();
    const cached = this.entries.get(projectId);
    if (cached && cached.until > now) return cached.endpoints;
    const endpoints = load();
    this.entries.delete(projectId);
    this.entries.set(projectId, { endpoints, until: now + this.ttlMs });
    // A failed read is not kept: the next event reads again.
    endpoints.catch(() => this.entries.delete(projectId));
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return endpoints;
  }
}

/** One cache per store instance (one per warm function in Lambda). */
const caches = new WeakMap<WebhookEndpointStore, ProjectEndpointsCache>();

/** Dependencies of dispatching one event to webhook endpoints. */
export interface DispatchWebhooksDeps {
  endpoints: WebhookEndpointStore;
  scheduler: WebhookRetryScheduler;
  clock: Clock;
  /** Default: one per `endpoints` store, kept for the warm function's life. */
  endpointCache?: ProjectEndpointsCache;
}

/** One delivery the dispatch made or found. */
export interface DispatchedDelivery {
  deliveryId: string;
  endpointId: string;
  /** False when an earlier dispatch of the same event recorded it. */
  created: boolean;
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
 * 2. Find the project's enabled endpoints subscribed to the event's type (the list cached for
 *    seconds per warm function: a burst of a project's events reads it once).
 * 3. For each, independently: record the delivery, due now, under an id derived from event +
 *    endpoint, unless it exists (a second dispatch makes no second delivery). One write.
 * 4. Queue its first attempt as its own message in its endpoint's fair-queue group. A crash
 *    before this leaves a pending delivery that the sweep queues a minute after its due time; a
 *    second dispatch queues it again, and the claim makes the attempt once.
 * 5. If any delivery failed to record or queue, throw after all were tried, so the event is
 *    retried.
 */
export const dispatchWebhooks = async (deps: DispatchWebhooksDeps, detail: unknown): Promise<DispatchWebhooksResult> => {
  const parsed = parseEventEnvelope(detail);
  if ('problems' in parsed) throw new InvalidEventEnvelopeError(`Not an event envelope: ${parsed.problems}`);
  const event = parsed.envelope as WebhookEvent;
  let cache = deps.endpointCache ?? caches.get(deps.endpoints);
  if (!cache) caches.set(deps.endpoints, (cache = new ProjectEndpointsCache()));
  const endpoints = (await cache.get(event.project_id, () => deps.endpoints.projectEndpoints(event.project_id))).filter(
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
        nextAttemptAt: now,
        failureReason: null,
        createdAt: now,
      };
      const created = await deps.endpoints.createDeliveryIfAbsent(delivery);
      await deps.scheduler.scheduleRetry(delivery.id, 0, { attempt: 1, endpointId: endpoint.id });
      return { deliveryId: delivery.id, endpointId: endpoint.id, created };
    }),
  );
  const failures = settled.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  if (failures.length > 0) throw new WebhookDispatchError(event.id, failures);
  return {
    eventId: event.id,
    deliveries: settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
  };
};
