import type {
  AttemptResult,
  CheckedTarget,
  DeliveryStatus,
  EventSubscription,
  EndpointDisabledReason,
  UrlCheck,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEndpoint,
} from './webhooks';

/** What a delivery becomes once an attempt is recorded. */
export type DeliveryStateAfterAttempt =
  | { status: 'pending'; nextAttemptAt: string }
  | { status: 'succeeded' }
  | { status: 'failed'; reason: string };

/** The delivery side of webhook storage: one delivery, its endpoint, their outcomes. */
export interface WebhookDeliveryStore {
  /** The delivery and its endpoint (strongly consistent); undefined when either is gone. */
  getDelivery(deliveryId: string): Promise<{ delivery: WebhookDelivery; endpoint: WebhookEndpoint } | undefined>;
  /**
   * Appends attempt `attempt.attempt` and moves the delivery to `then`, in one write that holds
   * only if the delivery is pending with `attempt.attempt - 1` attempts. Returns false when it
   * does not hold: another run of the same message recorded that attempt first.
   */
  recordAttempt(deliveryId: string, attempt: WebhookAttempt, then: DeliveryStateAfterAttempt): Promise<boolean>;
  /** Fails a pending delivery without an attempt (its endpoint was disabled); no-op otherwise. */
  markFailed(deliveryId: string, reason: string, at: Date): Promise<void>;
  /** The endpoint succeeded at `at`: `lastSuccessAt` = at, `failingSince` cleared. */
  recordEndpointSuccess(endpointId: string, at: Date): Promise<void>;
  /** The endpoint failed at `at`: sets `failingSince` unless already set; returns its value. */
  recordEndpointFailure(endpointId: string, at: Date): Promise<string>;
  /** Disables the endpoint with its reason and time; no-op when already disabled. */
  disableEndpoint(endpointId: string, reason: EndpointDisabledReason, at: Date): Promise<void>;
}

/** Puts a delivery back on the delivery queue to be attempted after `delaySeconds`. */
export interface WebhookRetryScheduler {
  /**
   * Any delay, however long: an adapter over a queue with a delay cap (SQS: 15 minutes) sends
   * at the cap, and the early message is put back with the remaining delay by `deliverWebhook`.
   */
  scheduleRetry(deliveryId: string, delaySeconds: number): Promise<void>;
}

/** The SSRF guard: whether a URL may be called and at which address. */
export interface WebhookUrlGuard {
  check(url: string): Promise<UrlCheck>;
}

/** One signed delivery attempt as it goes on the wire. */
export interface WebhookMessage {
  /** `webhook-id`: the event id, the same on every attempt. */
  id: string;
  /** The exact bytes that are signed and sent. */
  body: string;
  /** The `whsec_` secrets that sign it, newest first (several during a rotation overlap). */
  secrets: ReadonlyArray<string>;
}

/** POSTs one attempt to a checked target; never throws, every failure is in the result. */
export interface WebhookSender {
  send(target: CheckedTarget, message: WebhookMessage): Promise<AttemptResult>;
}

/** A page of a listing and the cursor of the next one (null on the last page). */
export interface WebhookPage<T> {
  items: T[];
  nextCursor: string | null;
}

/** A delivery with its recorded attempts, oldest first (the last `MAX_STORED_ATTEMPTS` of them). */
export interface DeliveryWithAttempts {
  delivery: WebhookDelivery;
  attempts: WebhookAttempt[];
}

/** What may change on an endpoint (PATCH); absent fields stay as they are. */
export interface EndpointChanges {
  url?: string;
  events?: EventSubscription[];
  /** true re-enables (clearing the disabled state and the failing streak); false disables by hand. */
  enabled?: boolean;
  /** null clears it. */
  description?: string | null;
}

/** What recording a delivery for dispatch found. */
export interface DeliveryRecorded {
  /** True when this call wrote it; false when an earlier dispatch of the same event did. */
  created: boolean;
  /** Whether its first queue message is known to have been sent (`markQueued`). */
  queued: boolean;
}

/** The management side of webhook storage: endpoints and their delivery log. */
export interface WebhookEndpointStore {
  /** Stores a new endpoint (its id is fresh). */
  createEndpoint(endpoint: WebhookEndpoint): Promise<void>;
  /** One endpoint (strongly consistent), or undefined. */
  getEndpoint(endpointId: string): Promise<WebhookEndpoint | undefined>;
  /** A project's endpoints, oldest first. A cursor this listing did not return throws `InvalidWebhookCursorError`. */
  listEndpoints(projectId: string, page: { limit: number; cursor?: string }): Promise<WebhookPage<WebhookEndpoint>>;
  /** Every endpoint of a project (for dispatch: a project has few). */
  projectEndpoints(projectId: string): Promise<WebhookEndpoint[]>;
  /** Applies `changes` at `at`; undefined when the endpoint does not exist. */
  updateEndpoint(endpointId: string, changes: EndpointChanges, at: Date): Promise<WebhookEndpoint | undefined>;
  /** Deletes the endpoint; its deliveries are left to expire (they are no longer attempted). */
  deleteEndpoint(endpointId: string): Promise<void>;
  /**
   * Makes `secret` the current one at `at` (`rotateSecrets`: the ones it replaces keep signing
   * for the overlap), safe against a concurrent rotation; undefined when the endpoint is gone.
   */
  rotateSecret(endpointId: string, secret: string, at: Date): Promise<WebhookEndpoint | undefined>;
  /** Records a new delivery unless one with its id (event + endpoint) exists. */
  createDeliveryIfAbsent(delivery: WebhookDelivery): Promise<DeliveryRecorded>;
  /** Notes that the delivery's first queue message was sent, so a second dispatch does not send another. */
  markQueued(deliveryId: string): Promise<void>;
  /** One delivery with its attempts, or undefined. */
  getDeliveryWithAttempts(deliveryId: string): Promise<DeliveryWithAttempts | undefined>;
  /** An endpoint's deliveries, newest first, optionally of one status. */
  listDeliveries(
    endpointId: string,
    page: { limit: number; cursor?: string; status?: DeliveryStatus },
  ): Promise<WebhookPage<DeliveryWithAttempts>>;
  /** Puts a failed delivery back to pending, due now; false when it was not failed. */
  reopenDelivery(deliveryId: string): Promise<boolean>;
}

/** A cursor that the listing did not hand out (or that belongs to another endpoint or project). */
export class InvalidWebhookCursorError extends Error {}
