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
  /** `checkAt`: when the sweep looks at it if no queue message brings it first (`sweepCheckAt`). */
  | { status: 'pending'; nextAttemptAt: string; checkAt: string }
  | { status: 'succeeded' }
  | { status: 'failed'; reason: string };

/** What claiming a delivery's next attempt found. */
export type ClaimResult =
  /** The attempt is this caller's until the lease ends: `claimId` records it. */
  | { claimed: true; delivery: WebhookDelivery; claimId: string }
  /** Not due before `dueAt`. */
  | { claimed: false; reason: 'not-due'; dueAt: string }
  /**
   * `not-found`: no such delivery; `finished`: succeeded or failed; `claimed`: another run holds
   * the attempt; `stale`: the attempt asked for was already made.
   */
  | { claimed: false; reason: 'not-found' | 'finished' | 'claimed' | 'stale' };

/** A pending delivery the sweep found past the time it should have been looked at. */
export interface DueDelivery {
  deliveryId: string;
  endpointId: string;
  /** The attempt it is due for. */
  attempt: number;
}

/** The delivery side of webhook storage: one delivery, its endpoint, their outcomes. */
export interface WebhookDeliveryStore {
  /**
   * Claims the next attempt of a delivery at `at`, in one conditional write that holds only if
   * it is pending, due, not claimed by a live lease and (when `attempt` is given) still waiting
   * for that attempt. A second claimant of the same attempt gets `claimed` or `stale`, so an
   * attempt is sent once however many messages (queue duplicates, the sweep) ask for it.
   */
  claimAttempt(deliveryId: string, at: Date, attempt?: number): Promise<ClaimResult>;
  /** One endpoint, strongly consistent (a 410 recorded a moment ago is seen), or undefined. */
  getEndpoint(endpointId: string): Promise<WebhookEndpoint | undefined>;
  /**
   * Appends attempt `attempt.attempt` and moves the delivery to `then`, in one write that holds
   * only while `claimId` still holds the claim. Returns false when it does not.
   */
  recordAttempt(deliveryId: string, claimId: string, attempt: WebhookAttempt, then: DeliveryStateAfterAttempt): Promise<boolean>;
  /** Fails a claimed delivery without an attempt (its endpoint is disabled or gone). */
  markFailed(deliveryId: string, claimId: string, reason: string): Promise<void>;
  /** The endpoint succeeded at `at`: `lastSuccessAt` = at, `failingSince` cleared. */
  recordEndpointSuccess(endpointId: string, at: Date): Promise<void>;
  /** The endpoint failed at `at`: sets `failingSince` unless already set; returns its value. */
  recordEndpointFailure(endpointId: string, at: Date): Promise<string>;
  /** Disables the endpoint with its reason and time; no-op when already disabled. */
  disableEndpoint(endpointId: string, reason: EndpointDisabledReason, at: Date): Promise<void>;
  /** Pending deliveries whose sweep time (`checkAt`, or a lapsed claim) is at or before `at`, at most `limit`. */
  dueDeliveries(at: Date, limit: number): Promise<DueDelivery[]>;
}

/** Puts a delivery's attempt on the delivery queue, to be made after `delaySeconds`. */
export interface WebhookRetryScheduler {
  /**
   * At most `QUEUE_DELAY_CAP_SECONDS`: longer waits are the sweep's. `target` names the attempt
   * (a message for an attempt already made is dropped) and the endpoint (the fair-queue group).
   */
  scheduleRetry(deliveryId: string, delaySeconds: number, target?: { attempt?: number; endpointId?: string }): Promise<void>;
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

/** Where a listing stopped: the table key it resumes after (sealed into a cursor by the use case). */
export type WebhookListPosition = Record<string, string>;

/** A page of a listing and where the next one starts (null on the last page). */
export interface WebhookPage<T> {
  items: T[];
  next: WebhookListPosition | null;
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


/** The management side of webhook storage: endpoints and their delivery log. */
export interface WebhookEndpointStore {
  /** Stores a new endpoint (its id is fresh). */
  createEndpoint(endpoint: WebhookEndpoint): Promise<void>;
  /** One endpoint (strongly consistent), or undefined. */
  getEndpoint(endpointId: string): Promise<WebhookEndpoint | undefined>;
  /** A project's endpoints, oldest first. A position of another listing throws `InvalidWebhookCursorError`. */
  listEndpoints(projectId: string, page: { limit: number; after?: WebhookListPosition }): Promise<WebhookPage<WebhookEndpoint>>;
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
  /**
   * Records a new pending delivery, due at its `nextAttemptAt`, unless one with its id (event +
   * endpoint) exists; true when this call wrote it.
   */
  createDeliveryIfAbsent(delivery: WebhookDelivery): Promise<boolean>;
  /** One delivery with its attempts, or undefined. */
  getDeliveryWithAttempts(deliveryId: string): Promise<DeliveryWithAttempts | undefined>;
  /** An endpoint's deliveries, newest first, optionally of one status. */
  listDeliveries(
    endpointId: string,
    page: { limit: number; after?: WebhookListPosition; status?: DeliveryStatus },
  ): Promise<WebhookPage<DeliveryWithAttempts>>;
  /** Puts a failed delivery back to pending, due at `at`; false when it was not failed. */
  reopenDelivery(deliveryId: string, at: Date): Promise<boolean>;
}

/** A position that is not one of this listing's (another endpoint's or project's, or not a key at all). */
export class InvalidWebhookCursorError extends Error {}
