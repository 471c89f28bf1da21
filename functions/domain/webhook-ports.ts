import type {
  AttemptResult,
  CheckedTarget,
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
