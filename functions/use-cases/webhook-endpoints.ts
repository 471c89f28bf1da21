import { ulid } from 'ulid';
import { EVENT_API_VERSION } from '../contracts/events';
import { ResourceNotFoundError, ValidationFailedError } from '../domain/errors';
import type { Principal } from '../domain/model';
import {
  type AccountStore,
  type Clock,
  type CursorCodec,
  type DeliveryWithAttempts,
  type EndpointChanges,
  InvalidWebhookCursorError,
  type WebhookDeliveryStore,
  type WebhookEndpointStore,
  type WebhookListPosition,
  type WebhookRetryScheduler,
  type WebhookSender,
  type WebhookUrlGuard,
} from '../domain/ports';
import {
  WEBHOOK_TEST_EVENT_TYPE,
  disabledMessage,
  generateWebhookSecret,
  initialSecrets,
  newWebhookEndpointId,
  signingSecrets,
  WEBHOOK_PAGE_DEFAULT,
  type AttemptOutcome,
  type AttemptResult,
  type DeliveryStatus,
  type EndpointDisabledReason,
  type EventSubscription,
  type WebhookEndpoint,
  type WebhookEvent,
  type WebhookEventType,
} from '../domain/webhooks';
import { deliverWebhook } from './deliver-webhook';

// The webhook endpoints API. The HTTP layer checks the ability (project-access-code:view-any)
// and validates the inputs with the schemas of operations/webhook-endpoint-inputs.ts; these use cases check
// the team: another team's project, endpoint or delivery is not found, never revealed.

/** `POST /v1/webhook-endpoints`, as validated. */
export interface CreateWebhookEndpointInput {
  project_id: string;
  url: string;
  events: EventSubscription[];
  description?: string;
}

/** `PATCH /v1/webhook-endpoints/{id}`, as validated: absent fields stay; `description: null` clears it. */
export interface UpdateWebhookEndpointInput {
  url?: string;
  events?: EventSubscription[];
  enabled?: boolean;
  description?: string | null;
}

/** `GET /v1/webhook-endpoints?project_id=…`, as validated. */
export interface ListWebhookEndpointsInput {
  project_id: string;
  cursor?: string;
  limit?: number;
}

/** `GET /v1/webhook-endpoints/{id}/deliveries`, as validated. */
export interface ListWebhookDeliveriesInput {
  status?: 'pending' | 'succeeded' | 'failed';
  cursor?: string;
  limit?: number;
}

/** Dependencies of the webhook endpoint operations. */
export interface WebhookEndpointsDeps {
  accounts: Pick<AccountStore, 'findProject'>;
  endpoints: WebhookEndpointStore;
  /** For retrying a delivery now (the same path as a queued attempt). */
  deliveries: WebhookDeliveryStore;
  guard: WebhookUrlGuard;
  sender: WebhookSender;
  scheduler: WebhookRetryScheduler;
  clock: Clock;
}

/** The webhook parts an operation is given (the `webhooks` need): everything but the project lookup and the clock. */
export type WebhookServices = Omit<WebhookEndpointsDeps, 'accounts' | 'clock'>;

/** An endpoint as the API shows it: never its secrets. */
export interface WebhookEndpointView {
  id: string;
  project_id: string;
  url: string;
  events: EventSubscription[];
  description: string | null;
  enabled: boolean;
  /** Why and when it stopped receiving deliveries; null while enabled. */
  disabled: { at: string; reason: EndpointDisabledReason; message: string } | null;
  created_at: string;
  last_success_at: string | null;
  /** The first failure since the last success; null when not failing. */
  failing_since: string | null;
}

/** One attempt as the deliveries listing shows it. */
export interface WebhookAttemptView {
  attempt: number;
  at: string;
  response_status: number | null;
  duration_ms: number;
  error: string | null;
  /** The first bytes (at most 1 KiB) of the response body. */
  response_snippet: string;
  outcome: AttemptOutcome;
}

/** One delivery as the deliveries listing shows it. */
export interface WebhookDeliveryView {
  id: string;
  event_id: string;
  event_type: WebhookEventType;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: string | null;
  failure_reason: string | null;
  created_at: string;
  /** The recorded attempts, oldest first (the last 20; `attempt_count` counts them all). */
  attempts: WebhookAttemptView[];
}

/** Shows an endpoint without its secrets. */
export const endpointView = (endpoint: WebhookEndpoint): WebhookEndpointView => ({
  id: endpoint.id,
  project_id: endpoint.projectId,
  url: endpoint.url,
  events: endpoint.events,
  description: endpoint.description,
  enabled: endpoint.enabled,
  disabled:
    endpoint.enabled || endpoint.disabledAt === null || endpoint.disabledReason === null
      ? null
      : { at: endpoint.disabledAt, reason: endpoint.disabledReason, message: disabledMessage(endpoint.disabledReason, endpoint.disabledAt) },
  created_at: endpoint.createdAt,
  last_success_at: endpoint.lastSuccessAt,
  failing_since: endpoint.failingSince,
});

const attemptView = (attempt: AttemptResult & { attempt?: number; at?: string }, at: string, number = 0): WebhookAttemptView => ({
  attempt: attempt.attempt ?? number,
  at: attempt.at ?? at,
  response_status: attempt.status,
  duration_ms: attempt.durationMs,
  error: attempt.error ?? null,
  response_snippet: attempt.responseSnippet,
  outcome: attempt.outcome,
});

/** Shows a delivery with its attempts. */
export const deliveryView = ({ delivery, attempts }: DeliveryWithAttempts): WebhookDeliveryView => ({
  id: delivery.id,
  event_id: delivery.eventId,
  event_type: delivery.eventType,
  status: delivery.status,
  attempt_count: delivery.attemptCount,
  next_attempt_at: delivery.nextAttemptAt,
  failure_reason: delivery.failureReason,
  created_at: delivery.createdAt,
  attempts: attempts.map((attempt) => attemptView(attempt, attempt.at)),
});

const endpointNotFound = (endpointId: string) => new ResourceNotFoundError('Webhook endpoint', endpointId);

/** The caller's team's project, or not found. */
const ownProject = async (deps: WebhookEndpointsDeps, principal: Principal, projectId: string) => {
  const project = await deps.accounts.findProject(projectId);
  if (!project || project.teamId !== principal.teamId) throw new ResourceNotFoundError('Project', projectId);
  return project;
};

/** The caller's team's endpoint, or not found. */
const ownEndpoint = async (deps: WebhookEndpointsDeps, principal: Principal, endpointId: string): Promise<WebhookEndpoint> => {
  const endpoint = await deps.endpoints.getEndpoint(endpointId);
  if (!endpoint || endpoint.teamId !== principal.teamId) throw endpointNotFound(endpointId);
  return endpoint;
};

/** Refuses, as a validation error on `url`, a URL the SSRF guard refuses. */
const checkUrl = async (deps: WebhookEndpointsDeps, url: string): Promise<void> => {
  const check = await deps.guard.check(url);
  if (!check.ok) throw new ValidationFailedError([{ path: 'url', message: check.reason }]);
};

const uniqueEvents = (events: ReadonlyArray<EventSubscription>): EventSubscription[] => [...new Set(events)];

const invalidCursor = () => new ValidationFailedError([{ path: 'cursor', message: 'cursor is not one this listing returned' }]);

const cursorError = (error: unknown): never => {
  if (error instanceof InvalidWebhookCursorError) throw invalidCursor();
  throw error;
};

/** A listing position as the store returned it: every value a string. */
const isPosition = (value: unknown): value is WebhookListPosition =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');

/**
 * The position sealed in `cursor` under `context` (the listing and its filters), or 422: a
 * cursor is AES-GCM over the position with the context as associated data, so one that was
 * altered, made by hand or issued for another listing does not open.
 */
const openCursor = async (cursors: CursorCodec, cursor: string | undefined, context: string): Promise<WebhookListPosition | undefined> => {
  if (cursor === undefined) return undefined;
  const opened = await cursors.open(cursor, context);
  if (!isPosition(opened)) throw invalidCursor();
  return opened;
};

const sealCursor = async (cursors: CursorCodec, next: WebhookListPosition | null, context: string): Promise<string | null> =>
  next === null ? null : cursors.seal(next, context);

/**
 * Creates an endpoint and returns it with its signing secret, shown only here and on rotation.
 * 1. The project must be the caller's team's; the URL must pass the SSRF guard.
 * 2. Store the endpoint with a new `whsec_` secret (one write: a crash before it leaves nothing).
 */
export const createWebhookEndpoint = async (
  deps: WebhookEndpointsDeps,
  principal: Principal,
  input: CreateWebhookEndpointInput,
): Promise<WebhookEndpointView & { secret: string }> => {
  const project = await ownProject(deps, principal, input.project_id);
  await checkUrl(deps, input.url);
  const now = deps.clock.now();
  const secret = generateWebhookSecret();
  const endpoint: WebhookEndpoint = {
    id: newWebhookEndpointId(),
    teamId: project.teamId,
    projectId: project.id,
    url: input.url,
    events: uniqueEvents(input.events),
    description: input.description ?? null,
    enabled: true,
    disabledAt: null,
    disabledReason: null,
    secrets: initialSecrets(secret, now),
    createdAt: now.toISOString(),
    lastSuccessAt: null,
    failingSince: null,
  };
  await deps.endpoints.createEndpoint(endpoint);
  return { ...endpointView(endpoint), secret };
};

/** Lists a project's endpoints, oldest first, a page at a time (cursors bound to the project). */
export const listWebhookEndpoints = async (
  deps: WebhookEndpointsDeps & { cursors: CursorCodec },
  principal: Principal,
  input: ListWebhookEndpointsInput,
): Promise<{ project_id: string; endpoints: WebhookEndpointView[]; next_cursor: string | null }> => {
  await ownProject(deps, principal, input.project_id);
  const context = `webhook-endpoints\n${input.project_id}`;
  const after = await openCursor(deps.cursors, input.cursor, context);
  const page = await deps.endpoints
    .listEndpoints(input.project_id, { limit: input.limit ?? WEBHOOK_PAGE_DEFAULT, ...(after ? { after } : {}) })
    .catch(cursorError);
  return { project_id: input.project_id, endpoints: page.items.map(endpointView), next_cursor: await sealCursor(deps.cursors, page.next, context) };
};

/** One endpoint of the caller's team. */
export const getWebhookEndpoint = async (deps: WebhookEndpointsDeps, principal: Principal, endpointId: string): Promise<WebhookEndpointView> =>
  endpointView(await ownEndpoint(deps, principal, endpointId));

/**
 * Changes an endpoint's URL, events, description or enabled state.
 * 1. The endpoint must be the caller's team's; a new URL must pass the SSRF guard.
 * 2. One conditional update. Re-enabling a disabled endpoint clears its disabled state and its
 *    failing streak; `enabled` is only written when it changes, so that patching an enabled
 *    endpoint cannot reset the streak that the 5-day rule counts.
 */
export const updateWebhookEndpoint = async (
  deps: WebhookEndpointsDeps,
  principal: Principal,
  endpointId: string,
  input: UpdateWebhookEndpointInput,
): Promise<WebhookEndpointView> => {
  const endpoint = await ownEndpoint(deps, principal, endpointId);
  if (input.url !== undefined) await checkUrl(deps, input.url);
  const changes: EndpointChanges = {
    ...(input.url !== undefined ? { url: input.url } : {}),
    ...(input.events !== undefined ? { events: uniqueEvents(input.events) } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.enabled !== undefined && input.enabled !== endpoint.enabled ? { enabled: input.enabled } : {}),
  };
  const updated = await deps.endpoints.updateEndpoint(endpointId, changes, deps.clock.now());
  if (!updated) throw endpointNotFound(endpointId);
  return endpointView(updated);
};

/** Deletes an endpoint: it receives nothing more (its queued deliveries find it gone). */
export const deleteWebhookEndpoint = async (deps: WebhookEndpointsDeps, principal: Principal, endpointId: string): Promise<void> => {
  await ownEndpoint(deps, principal, endpointId);
  await deps.endpoints.deleteEndpoint(endpointId);
};

/**
 * Makes a new signing secret current and returns it. For 24 hours every delivery is signed with
 * the old one(s) too, so a receiver can switch without a delivery that fails to verify.
 */
export const rotateWebhookSecret = async (
  deps: WebhookEndpointsDeps,
  principal: Principal,
  endpointId: string,
): Promise<{ id: string; secret: string; previous_secrets_expire_at: string | null }> => {
  await ownEndpoint(deps, principal, endpointId);
  const secret = generateWebhookSecret();
  const now = deps.clock.now();
  const rotated = await deps.endpoints.rotateSecret(endpointId, secret, now);
  if (!rotated) throw endpointNotFound(endpointId);
  const overlap = signingSecrets(rotated.secrets, now).flatMap((s) => (s.expiresAt === null ? [] : [s.expiresAt]));
  return { id: endpointId, secret, previous_secrets_expire_at: overlap.sort().at(-1) ?? null };
};

/** An endpoint's deliveries, newest first, optionally of one status, a page at a time (cursors bound to the endpoint and the status). */
export const listWebhookDeliveries = async (
  deps: WebhookEndpointsDeps & { cursors: CursorCodec },
  principal: Principal,
  endpointId: string,
  input: ListWebhookDeliveriesInput,
): Promise<{ endpoint_id: string; deliveries: WebhookDeliveryView[]; next_cursor: string | null }> => {
  await ownEndpoint(deps, principal, endpointId);
  const context = `webhook-deliveries\n${endpointId}\n${input.status ?? ''}`;
  const after = await openCursor(deps.cursors, input.cursor, context);
  const page = await deps.endpoints
    .listDeliveries(endpointId, {
      limit: input.limit ?? WEBHOOK_PAGE_DEFAULT,
      ...(after ? { after } : {}),
      ...(input.status ? { status: input.status } : {}),
    })
    .catch(cursorError);
  return { endpoint_id: endpointId, deliveries: page.items.map(deliveryView), next_cursor: await sealCursor(deps.cursors, page.next, context) };
};

/**
 * Sends a failed or overdue delivery again now, with the same `webhook-id`.
 * 1. The endpoint and the delivery must be the caller's team's (the delivery of that endpoint).
 * 2. A failed delivery is put back to pending, due now (conditional on it being failed: two
 *    concurrent retries make one attempt). A pending one may be retried once it is past its due
 *    time (its attempt was lost or is late); one not yet due, or succeeded, is refused.
 * 3. Make the attempt as a queued one would: claimed first, so that a queue message or the sweep
 *    asking for the same attempt makes none; recorded as the next attempt number; with the
 *    schedule exhausted, a failure leaves it failed again rather than starting a new chain.
 */
export const retryWebhookDelivery = async (
  deps: WebhookEndpointsDeps,
  principal: Principal,
  endpointId: string,
  deliveryId: string,
): Promise<WebhookDeliveryView> => {
  await ownEndpoint(deps, principal, endpointId);
  const found = await deps.endpoints.getDeliveryWithAttempts(deliveryId);
  if (!found || found.delivery.endpointId !== endpointId) throw new ResourceNotFoundError('Webhook delivery', deliveryId);
  const now = deps.clock.now();
  const { delivery } = found;
  const overdue = delivery.status === 'pending' && delivery.nextAttemptAt !== null && Date.parse(delivery.nextAttemptAt) <= now.getTime();
  const reopened = delivery.status === 'failed' && (await deps.endpoints.reopenDelivery(deliveryId, now));
  if (!overdue && !reopened) {
    const why =
      delivery.status === 'pending'
        ? `A pending delivery can be retried once it is past its due time; this one is due at ${delivery.nextAttemptAt}.`
        : `Only a failed or overdue delivery can be retried; this one is ${delivery.status}.`;
    throw new ValidationFailedError([{ path: 'delivery_id', message: why }], 'The delivery cannot be retried.');
  }
  await deliverWebhook({ store: deps.deliveries, guard: deps.guard, sender: deps.sender, scheduler: deps.scheduler, clock: deps.clock }, deliveryId);
  const after = await deps.endpoints.getDeliveryWithAttempts(deliveryId);
  if (!after) throw new ResourceNotFoundError('Webhook delivery', deliveryId);
  return deliveryView(after);
};

/**
 * Sends a signed `webhook.test` event to the endpoint now and reports the attempt. Nothing is
 * stored and nothing is retried: it is for checking the receiver's signature code.
 */
export const sendTestWebhook = async (
  deps: WebhookEndpointsDeps,
  principal: Principal,
  endpointId: string,
): Promise<{ event_id: string; attempt: WebhookAttemptView }> => {
  const endpoint = await ownEndpoint(deps, principal, endpointId);
  const now = deps.clock.now();
  const event: WebhookEvent = {
    id: `evt_${ulid()}`,
    type: WEBHOOK_TEST_EVENT_TYPE,
    created_at: now.toISOString(),
    api_version: EVENT_API_VERSION,
    project_id: endpoint.projectId,
    data: { endpoint_id: endpoint.id },
  };
  const check = await deps.guard.check(endpoint.url);
  const result: AttemptResult = check.ok
    ? await deps.sender.send(check.target, {
        id: event.id,
        body: JSON.stringify(event),
        secrets: signingSecrets(endpoint.secrets, now).map((s) => s.secret),
      })
    : { status: null, durationMs: 0, error: `URL refused: ${check.reason}`, responseSnippet: '', outcome: 'failed' };
  return { event_id: event.id, attempt: attemptView(result, now.toISOString(), 1) };
};
