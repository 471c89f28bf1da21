import { createHash, randomBytes } from 'node:crypto';
import { ulid } from 'ulid';
import type { AccessCodeEventType, EventEnvelope } from '../contracts/events';

// Webhook rules with no I/O: what an endpoint subscribes to, how its secrets rotate, when a
// delivery is retried and when an endpoint is given up on.

/** The event types an endpoint may subscribe to, one by one. */
export const WEBHOOK_EVENT_TYPES = ['access_code.generated', 'access_code.redeemed', 'access_code.expired'] as const satisfies readonly AccessCodeEventType[];

/** The wildcard that subscribes to every `access_code.*` type, present and future. */
export const ACCESS_CODE_WILDCARD = 'access_code.*';

/** What an endpoint's `events` list may hold. */
export type EventSubscription = AccessCodeEventType | typeof ACCESS_CODE_WILDCARD;

/** Every value `events` accepts, for the route's schema. */
export const EVENT_SUBSCRIPTIONS = [...WEBHOOK_EVENT_TYPES, ACCESS_CODE_WILDCARD] as const satisfies readonly EventSubscription[];

/** The type of the signed event `POST …/test` sends; never routed from the bus. */
export const WEBHOOK_TEST_EVENT_TYPE = 'webhook.test';

/** The types a delivery may carry. */
export type WebhookEventType = AccessCodeEventType | typeof WEBHOOK_TEST_EVENT_TYPE;

/** The body of a delivery: the published envelope (or the test event, shaped alike). */
export type WebhookEvent = Omit<EventEnvelope, 'type'> & { type: WebhookEventType };

/** Whether an endpoint subscribed to `events` receives an event of `type`. */
export const subscribesTo = (events: ReadonlyArray<EventSubscription>, type: string): boolean =>
  events.some((event) => event === type || (event === ACCESS_CODE_WILDCARD && type.startsWith('access_code.')));

/** One signing secret of an endpoint. */
export interface WebhookSecret {
  /** `whsec_` + base64 of the key; never logged, shown only at creation and rotation. */
  secret: string;
  createdAt: string;
  /** Set on rotation: the secret still signs until then. Null while it is the current one. */
  expiresAt: string | null;
}

/** Why an endpoint stopped receiving deliveries. */
export type EndpointDisabledReason =
  /** The endpoint answered 410 Gone. */
  | 'gone'
  /** It kept failing, with no success, for `ENDPOINT_FAILURE_WINDOW_MS`. */
  | 'failing'
  /** The owner turned it off (PATCH enabled=false). */
  | 'manual';

/** A project's HTTPS endpoint subscribed to events. */
export interface WebhookEndpoint {
  id: string;
  teamId: string;
  projectId: string;
  url: string;
  events: EventSubscription[];
  description: string | null;
  enabled: boolean;
  /** When and why it was disabled; null while enabled. */
  disabledAt: string | null;
  disabledReason: EndpointDisabledReason | null;
  /** Newest first; see `signingSecrets` for which of them sign now. */
  secrets: WebhookSecret[];
  createdAt: string;
  lastSuccessAt: string | null;
  /** The first failed attempt since the last success; null when the last attempt succeeded. */
  failingSince: string | null;
}

/** Where a delivery stands. */
export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** How one attempt ended: `gone` is a 410, after which the endpoint is disabled. */
export type AttemptOutcome = 'succeeded' | 'failed' | 'gone';

/** What one HTTP attempt gave, as the sender reports it. */
export interface AttemptResult {
  /** The HTTP status, or null when no response came (refused URL, network error, timeout). */
  status: number | null;
  durationMs: number;
  /** Why it failed, in words for the endpoint's owner; never a secret. */
  error?: string;
  /** The first bytes (at most 1 KiB) of the response body. */
  responseSnippet: string;
  outcome: AttemptOutcome;
}

/** One recorded attempt of a delivery. */
export interface WebhookAttempt extends AttemptResult {
  /** 1 for the first attempt. */
  attempt: number;
  /** When it was made. */
  at: string;
}

/** One event to one endpoint, with its retry state. */
export interface WebhookDelivery {
  id: string;
  endpointId: string;
  projectId: string;
  /** The event id: the `webhook-id` of every attempt, so receivers can drop duplicates. */
  eventId: string;
  eventType: WebhookEventType;
  event: WebhookEvent;
  status: DeliveryStatus;
  /** Attempts made so far. */
  attemptCount: number;
  /** When the next attempt is due; null once the delivery is finished. */
  nextAttemptAt: string | null;
  /** Why it failed, once failed. */
  failureReason: string | null;
  createdAt: string;
}

/** A URL that passed the SSRF guard, with the address the connection must go to. */
export interface CheckedTarget {
  url: string;
  /** The address that was checked; connecting anywhere else would reopen DNS rebinding. */
  address: string;
  family: 4 | 6;
}

/** What the SSRF guard says about a URL. */
export type UrlCheck = { ok: true; target: CheckedTarget } | { ok: false; reason: string };

// ---- identifiers -------------------------------------------------------------------------

/** A new endpoint id, `whe_…`. */
export const newWebhookEndpointId = (): string => `whe_${ulid()}`;

/**
 * The id of the delivery of `eventId` to `endpointId`. Derived, not drawn, so that recording it
 * twice (EventBridge delivers at least once) is one conditional write on one key.
 */
export const deliveryIdFor = (eventId: string, endpointId: string): string =>
  `whd_${createHash('sha256').update(`${eventId}\n${endpointId}`).digest('base64url').slice(0, 26)}`;

// ---- secrets -----------------------------------------------------------------------------

/** How long a rotated-out secret keeps signing, so receivers can switch without a gap. */
export const SECRET_ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

const SECRET_PREFIX = 'whsec_';
/** Standard Webhooks asks for 24 to 64 random bytes. */
const SECRET_BYTES = 32;

/** A new signing secret in the Standard Webhooks format: `whsec_` + base64 of 32 random bytes. */
export const generateWebhookSecret = (): string => SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');

/** The secrets of a new endpoint. */
export const initialSecrets = (secret: string, now: Date): WebhookSecret[] => [
  { secret, createdAt: now.toISOString(), expiresAt: null },
];

/**
 * The secrets after rotating to `secret` at `now`: the new one first; every secret that was
 * current keeps signing for `SECRET_ROTATION_OVERLAP_MS`; ones already past their overlap are
 * dropped. Rotating twice in a day keeps both older secrets until their own deadline.
 */
export const rotateSecrets = (secrets: ReadonlyArray<WebhookSecret>, secret: string, now: Date): WebhookSecret[] => {
  const overlapEnds = new Date(now.getTime() + SECRET_ROTATION_OVERLAP_MS).toISOString();
  const kept = signingSecrets(secrets, now).map((old) => ({ ...old, expiresAt: old.expiresAt ?? overlapEnds }));
  return [{ secret, createdAt: now.toISOString(), expiresAt: null }, ...kept];
};

/** The secrets that sign a delivery made at `at`, newest first. */
export const signingSecrets = (secrets: ReadonlyArray<WebhookSecret>, at: Date): WebhookSecret[] =>
  secrets.filter((secret) => secret.expiresAt === null || Date.parse(secret.expiresAt) > at.getTime());

// ---- retries -----------------------------------------------------------------------------

/**
 * Seconds to wait after each failed attempt before the next one (the first attempt is
 * immediate): 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h six times. Twelve attempts over
 * 243,305 s ≈ 2.8 days, before jitter.
 */
export const RETRY_DELAYS_SECONDS: readonly number[] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000];

/** Each delay is stretched or shrunk by up to this fraction, so that endpoints recovering from an outage are not hit by every retry at once. */
export const RETRY_JITTER = 0.1;

/**
 * The delay in whole seconds before attempt `attemptNumber + 1`, after attempt `attemptNumber`
 * (1-based) failed; undefined once the schedule is exhausted. `random` is a number in [0, 1).
 */
export const nextAttemptDelay = (attemptNumber: number, random: number): number | undefined => {
  const base = RETRY_DELAYS_SECONDS[attemptNumber - 1];
  if (base === undefined || attemptNumber < 1) return undefined;
  const factor = 1 - RETRY_JITTER + 2 * RETRY_JITTER * Math.min(Math.max(random, 0), 1);
  return Math.max(1, Math.round(base * factor));
};

/** The most attempts a delivery gets. */
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;

// ---- disabling ---------------------------------------------------------------------------

/** An endpoint that fails for this long with no success in between is disabled. */
export const ENDPOINT_FAILURE_WINDOW_MS = 5 * 24 * 60 * 60 * 1000;

/** Whether an endpoint failing since `failingSince` (null: not failing) is to be disabled at `now`. */
export const failingTooLong = (failingSince: string | null, now: Date): boolean =>
  failingSince !== null && now.getTime() - Date.parse(failingSince) >= ENDPOINT_FAILURE_WINDOW_MS;

/** What the endpoint's listing says about why it is disabled. */
export const disabledMessage = (reason: EndpointDisabledReason, at: string): string => {
  switch (reason) {
    case 'gone':
      return `Disabled at ${at}: the endpoint answered 410 Gone.`;
    case 'failing':
      return `Disabled at ${at}: every delivery failed for ${ENDPOINT_FAILURE_WINDOW_MS / 86_400_000} days with no success.`;
    case 'manual':
      return `Disabled at ${at} by its owner.`;
  }
};

/** How many attempts a delivery keeps on record (the schedule's 12 plus manual retries); older ones are dropped, the count stays. */
export const MAX_STORED_ATTEMPTS = 20;

/** How long a delivery and its log are kept, in days (DynamoDB TTL). */
export const DELIVERY_RETENTION_DAYS = 30;

// ---- scheduling, fairness, health ----------------------------------------------------------

/** Retries due within this many seconds wait on the delivery queue (SQS's delay cap); longer ones are left to the sweep. */
export const QUEUE_DELAY_CAP_SECONDS = 900;

/**
 * How long a claimed attempt is its claimant's: above the deliverer's 30 s timeout, so that a
 * live claimant always records before anyone else may claim; after it, the sweep finds the
 * delivery again (its claimant died).
 */
export const CLAIM_LEASE_SECONDS = 60;

/**
 * How long after its due time the sweep looks at a delivery whose attempt went on the queue:
 * the queue's own message normally comes first, and the sweep only re-queues what it lost.
 */
export const SWEEP_GRACE_SECONDS = 60;

/**
 * When the sweep should look at a pending delivery due at `dueAt` (ISO): right at the due time
 * when nothing else will bring it (a delay past the queue's cap), `SWEEP_GRACE_SECONDS` after it
 * when a queue message should.
 */
export const sweepCheckAt = (dueAt: string, queued: boolean): string =>
  queued ? new Date(Date.parse(dueAt) + SWEEP_GRACE_SECONDS * 1000).toISOString() : dueAt;

/**
 * Sends in flight at once to one endpoint that is new, slow or not answering, in one deliverer
 * environment; more wait on the queue. An endpoint answering within `SLOW_SEND_MS` has no cap.
 */
export const ENDPOINT_IN_FLIGHT_CAP = 4;

/** A send answered within this is fast: its endpoint may use every slot of the environment. */
export const SLOW_SEND_MS = 1_000;

/** How long a delivery over its endpoint's in-flight cap waits before it is looked at again. */
export const DEFER_SECONDS = 5;

/** A healthy endpoint's `lastSuccessAt` is rewritten at most this often (health is written when it changes). */
export const LAST_SUCCESS_REFRESH_MS = 60 * 60 * 1000;

/** What an attempt's outcome changes on its endpoint; undefined when nothing does (nothing is written). */
export type EndpointHealthChange =
  /** First success after a failing streak (or in an hour): `lastSuccessAt` = at, the streak cleared. */
  | { kind: 'succeeded' }
  /** First failure of a streak: `failingSince` = at. */
  | { kind: 'failing' }
  | undefined;

/** The health write an attempt's outcome calls for on `endpoint` at `now`, if any. */
export const healthChange = (
  endpoint: Pick<WebhookEndpoint, 'failingSince' | 'lastSuccessAt'>,
  outcome: AttemptOutcome,
  now: Date,
): EndpointHealthChange => {
  if (outcome === 'succeeded') {
    const stale = endpoint.lastSuccessAt === null || now.getTime() - Date.parse(endpoint.lastSuccessAt) >= LAST_SUCCESS_REFRESH_MS;
    return endpoint.failingSince !== null || stale ? { kind: 'succeeded' } : undefined;
  }
  return endpoint.failingSince === null ? { kind: 'failing' } : undefined;
};

/** Page sizes of the webhook listings: default and maximum. */
export const WEBHOOK_PAGE_DEFAULT = 20;
export const WEBHOOK_PAGE_MAX = 100;
