import type { Clock } from '../domain/ports';
import type {
  DeliveryStateAfterAttempt,
  WebhookDeliveryStore,
  WebhookRetryScheduler,
  WebhookSender,
  WebhookUrlGuard,
} from '../domain/webhook-ports';
import {
  disabledMessage,
  failingTooLong,
  nextAttemptDelay,
  signingSecrets,
  type AttemptResult,
  type EndpointDisabledReason,
  type WebhookAttempt,
} from '../domain/webhooks';

/** Dependencies of one delivery attempt. */
export interface DeliverWebhookDeps {
  store: WebhookDeliveryStore;
  guard: WebhookUrlGuard;
  sender: WebhookSender;
  scheduler: WebhookRetryScheduler;
  clock: Clock;
  /** A number in [0, 1) for the retry jitter; default Math.random. */
  random?: () => number;
}

/** What handling one queue message for a delivery did. */
export type DeliverWebhookResult =
  /** The delivery or its endpoint no longer exists: nothing to do. */
  | { outcome: 'not-found' }
  /** It already succeeded or failed (a duplicate or late message). */
  | { outcome: 'finished' }
  /** Its next attempt is not due yet: put back with the remaining delay. */
  | { outcome: 'not-due'; delaySeconds: number }
  /** Its endpoint is disabled: the delivery failed without an attempt. */
  | { outcome: 'endpoint-disabled' }
  /** Another run of the same message recorded this attempt first; this run stops. */
  | { outcome: 'duplicate' }
  /** An attempt was made and recorded. */
  | {
      outcome: 'attempted';
      attempt: WebhookAttempt;
      /** Seconds until the next attempt, when one is scheduled. */
      retryInSeconds?: number;
      /** Set when this attempt disabled the endpoint, with the message its listing shows. */
      endpointDisabled?: { reason: EndpointDisabledReason; message: string };
    };

const isoAfter = (at: Date, seconds: number) => new Date(at.getTime() + seconds * 1000).toISOString();

/**
 * Makes the next attempt of one delivery; run for each message on the delivery queue. The
 * queue delivers at least once, so every step may run again after a crash.
 * 1. Load the delivery and its endpoint. Gone, or already finished: nothing to do.
 * 2. Not due yet (a message cut short by the queue's delay cap, or an early duplicate): put it
 *    back with the remaining delay. A crash here leaves the message to come back.
 * 3. Endpoint disabled: fail the delivery without an attempt.
 * 4. Check the URL again with the SSRF guard (DNS may have changed since creation), then send to
 *    the checked address, signed with the secrets valid now. A refused URL is a failed attempt.
 *    A crash after sending sends again with the same `webhook-id`, which receivers deduplicate.
 * 5. Record the outcome on the endpoint first: success clears its failing streak; failure
 *    starts it; a 410, or failing for 5 days with no success, disables it. These writes come
 *    before step 6 so that a crash between cannot leave a finished delivery whose endpoint
 *    outcome was never written.
 * 6. Record the attempt and the delivery's next state in one conditional write: pending with
 *    the next due time, succeeded, or failed (schedule exhausted, endpoint disabled). A
 *    concurrent duplicate loses this write and stops, so the retry chain never forks.
 * 7. Schedule the retry with its full delay. A crash before this leaves the message on the
 *    queue; when it comes back, step 2 sees the due time and schedules the remainder.
 */
export const deliverWebhook = async (deps: DeliverWebhookDeps, deliveryId: string): Promise<DeliverWebhookResult> => {
  const random = deps.random ?? Math.random;
  const loaded = await deps.store.getDelivery(deliveryId);
  if (loaded === undefined) return { outcome: 'not-found' };
  const { delivery, endpoint } = loaded;
  if (delivery.status !== 'pending') return { outcome: 'finished' };

  const now = deps.clock.now();
  if (delivery.nextAttemptAt !== null) {
    const remainingSeconds = Math.ceil((Date.parse(delivery.nextAttemptAt) - now.getTime()) / 1000);
    if (remainingSeconds > 0) {
      await deps.scheduler.scheduleRetry(deliveryId, remainingSeconds);
      return { outcome: 'not-due', delaySeconds: remainingSeconds };
    }
  }

  if (!endpoint.enabled) {
    await deps.store.markFailed(deliveryId, 'The endpoint is disabled.', now);
    return { outcome: 'endpoint-disabled' };
  }

  const check = await deps.guard.check(endpoint.url);
  const result: AttemptResult = check.ok
    ? await deps.sender.send(check.target, {
        id: delivery.eventId,
        body: JSON.stringify(delivery.event),
        secrets: signingSecrets(endpoint.secrets, now).map((s) => s.secret),
      })
    : { status: null, durationMs: 0, error: `URL refused: ${check.reason}`, responseSnippet: '', outcome: 'failed' };
  const attemptNumber = delivery.attemptCount + 1;
  const attempt: WebhookAttempt = { attempt: attemptNumber, at: now.toISOString(), ...result };

  let then: DeliveryStateAfterAttempt;
  let disable: EndpointDisabledReason | undefined;
  let retryInSeconds: number | undefined;
  if (result.outcome === 'succeeded') {
    await deps.store.recordEndpointSuccess(endpoint.id, now);
    then = { status: 'succeeded' };
  } else {
    const failingSince = await deps.store.recordEndpointFailure(endpoint.id, now);
    if (result.outcome === 'gone') disable = 'gone';
    else if (failingTooLong(failingSince, now)) disable = 'failing';
    retryInSeconds = disable === undefined ? nextAttemptDelay(attemptNumber, random()) : undefined;
    if (disable !== undefined) {
      await deps.store.disableEndpoint(endpoint.id, disable, now);
      then = { status: 'failed', reason: disabledMessage(disable, now.toISOString()) };
    } else if (retryInSeconds === undefined) {
      then = { status: 'failed', reason: `All ${attemptNumber} attempts failed.` };
    } else {
      then = { status: 'pending', nextAttemptAt: isoAfter(now, retryInSeconds) };
    }
  }

  if (!(await deps.store.recordAttempt(deliveryId, attempt, then))) return { outcome: 'duplicate' };
  if (retryInSeconds !== undefined) await deps.scheduler.scheduleRetry(deliveryId, retryInSeconds);
  return {
    outcome: 'attempted',
    attempt,
    ...(retryInSeconds === undefined ? {} : { retryInSeconds }),
    ...(disable === undefined ? {} : { endpointDisabled: { reason: disable, message: disabledMessage(disable, now.toISOString()) } }),
  };
};
