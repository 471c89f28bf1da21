import type { Clock, DeliveryStateAfterAttempt, WebhookDeliveryStore, WebhookRetryScheduler, WebhookSender, WebhookUrlGuard } from '../domain/ports';
import {
  DEFER_SECONDS,
  ENDPOINT_IN_FLIGHT_CAP,
  SLOW_SEND_MS,
  QUEUE_DELAY_CAP_SECONDS,
  disabledMessage,
  failingTooLong,
  healthChange,
  nextAttemptDelay,
  signingSecrets,
  sweepCheckAt,
  type AttemptResult,
  type EndpointDisabledReason,
  type WebhookAttempt,
} from '../domain/webhooks';

/**
 * What the gate answers: a slot, or how long to wait on the queue. The slot's holder says when
 * its HTTP send starts (only time spent sending counts as stuck: the table calls before it do
 * not) and releases it with how the send went.
 */
export type GateAnswer =
  | { sending: (now?: number) => void; release: (send?: { durationMs: number; answered: boolean }) => void }
  | { deferSeconds: number };

/**
 * Sends in flight per endpoint in one environment (a warm function, or the local stack's
 * deliverer). An endpoint whose last send here was answered within `SLOW_SEND_MS` may use every
 * slot; any other — new here, slow, timing out, refusing connections, or with `cap` sends
 * already stuck past `SLOW_SEND_MS` — at most `cap`: the next waits on the queue instead of
 * taking a slot, so that an endpoint that hangs holds `cap` of the environment's slots.
 */
export class EndpointGate {
  private readonly endpoints = new Map<string, { started: Map<symbol, number>; fast: boolean | undefined }>();

  constructor(
    private readonly cap = ENDPOINT_IN_FLIGHT_CAP,
    private readonly slowMs = SLOW_SEND_MS,
    /** Endpoints remembered at most; the least recently used are forgotten (they start over as new). */
    private readonly maxEndpoints = 10_000,
  ) {}

  /** Takes a slot for `endpointId`, or says how long to wait when the endpoint is at its cap. */
  tryAcquire(endpointId: string, now = performance.now()): GateAnswer {
    let state = this.endpoints.get(endpointId);
    if (state) this.endpoints.delete(endpointId);
    state ??= { started: new Map(), fast: undefined };
    this.endpoints.set(endpointId, state);
    if (this.endpoints.size > this.maxEndpoints) this.forgetOldest();
    let stuck = 0;
    for (const at of state.started.values()) if (now - at >= this.slowMs) stuck++;
    const capped = state.fast !== true || stuck >= this.cap;
    if (capped && state.started.size >= this.cap) {
      // A new endpoint's first sends are about to tell: look again soon. A slow one frees a slot
      // at most every send timeout: no point looking sooner than a few seconds.
      return { deferSeconds: state.fast === undefined ? 1 : DEFER_SECONDS };
    }
    const token = Symbol(endpointId);
    state.started.set(token, Number.POSITIVE_INFINITY);
    const held = state;
    return {
      sending: (at = performance.now()) => {
        if (held.started.has(token)) held.started.set(token, at);
      },
      release: (send) => {
        if (!held.started.delete(token)) return;
        if (send) held.fast = send.answered && send.durationMs < this.slowMs;
      },
    };
  }

  /** Sends to `endpointId` in flight now. */
  sending(endpointId: string): number {
    return this.endpoints.get(endpointId)?.started.size ?? 0;
  }

  private forgetOldest(): void {
    for (const [id, state] of this.endpoints) {
      if (state.started.size === 0) {
        this.endpoints.delete(id);
        return;
      }
    }
  }
}

/** The gate of this warm function, for deliverers not given one. */
const environmentGate = new EndpointGate();

/** Dependencies of one delivery attempt. */
export interface DeliverWebhookDeps {
  store: WebhookDeliveryStore;
  guard: WebhookUrlGuard;
  sender: WebhookSender;
  scheduler: WebhookRetryScheduler;
  clock: Clock;
  /** A number in [0, 1) for the retry jitter; default Math.random. */
  random?: () => number;
  /** The per-endpoint in-flight cap; default the warm function's own. */
  gate?: EndpointGate;
}

/** What the queue message said about the attempt, when it said it. */
export interface DeliveryTarget {
  /** The attempt the message is for. */
  attempt?: number;
  endpointId?: string;
}

/** What handling one queue message for a delivery did. */
export type DeliverWebhookResult =
  /** The delivery no longer exists: nothing to do. */
  | { outcome: 'not-found' }
  /** It already succeeded or failed, or this attempt was already made or is being made: a duplicate or late message. */
  | { outcome: 'finished' }
  /** Its next attempt is not due yet: put back with the remaining delay (or left to the sweep). */
  | { outcome: 'not-due'; delaySeconds: number }
  /** Its endpoint is at its in-flight cap here: put back for `DEFER_SECONDS`, nothing written. */
  | { outcome: 'deferred' }
  /** Its endpoint is disabled or deleted: the delivery failed without an attempt. */
  | { outcome: 'endpoint-disabled' }
  /** The claim lapsed before the attempt was recorded (a run slower than the lease). */
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
 * Makes the next attempt of one delivery; run for each message on the delivery queue (and by
 * the retry route). Messages come at least once and the sweep adds its own, so every step may
 * run twice or after a crash.
 * 1. The endpoint is new here or slow and already has `cap` sends in flight in this
 *    environment: put the message back for a few seconds (nothing written), so that an endpoint
 *    that hangs holds few slots while a fast one may use them all.
 * 2. Claim the attempt (one conditional write, which returns the delivery) while reading the
 *    endpoint (strongly consistent, so a 410 recorded a moment ago stops this send). A message
 *    for an attempt made or being made stops here; one early is put back with the rest of its
 *    delay, or left to the sweep when that is past the queue's cap. A crash after the claim
 *    leaves the delivery to the sweep once the lease lapses.
 * 3. Endpoint disabled or deleted: fail the delivery without an attempt.
 * 4. Check the URL again with the SSRF guard (DNS may have changed since creation), then send to
 *    the checked address, signed with the secrets valid now. A refused URL is a failed attempt.
 *    A crash after sending sends again (after the lease) with the same `webhook-id`.
 * 5. Write the endpoint's health only when it changes (first failure of a streak, first success
 *    after one); a 410, or 5 days of failures, disables it. Before step 6, so that a crash
 *    between cannot leave a finished delivery whose endpoint outcome was never written.
 * 6. Record the attempt and the next state in one write that holds only under this claim:
 *    pending with the next due time, succeeded, or failed.
 * 7. A retry due within the queue's delay cap goes on the queue; a later one is the sweep's
 *    (it finds the delivery at its due time). A crash before this leaves it to the sweep too.
 */
export const deliverWebhook = async (deps: DeliverWebhookDeps, deliveryId: string, target: DeliveryTarget = {}): Promise<DeliverWebhookResult> => {
  const gate = deps.gate ?? environmentGate;
  const slot = target.endpointId === undefined ? { sending: () => undefined, release: () => undefined } : gate.tryAcquire(target.endpointId);
  if ('deferSeconds' in slot) {
    await deps.scheduler.scheduleRetry(deliveryId, slot.deferSeconds, target);
    return { outcome: 'deferred' };
  }
  let send: { durationMs: number; answered: boolean } | undefined;
  try {
    return await attempt(deps, deliveryId, target, {
      starting: () => slot.sending(),
      sent: (result) => (send = { durationMs: result.durationMs, answered: result.status !== null }),
    });
  } finally {
    slot.release(send);
  }
};

const attempt = async (
  deps: DeliverWebhookDeps,
  deliveryId: string,
  target: DeliveryTarget,
  send: { starting: () => void; sent: (result: AttemptResult) => void },
): Promise<DeliverWebhookResult> => {
  const random = deps.random ?? Math.random;
  const now = deps.clock.now();
  const [claim, knownEndpoint] = await Promise.all([
    deps.store.claimAttempt(deliveryId, now, target.attempt),
    target.endpointId === undefined ? undefined : deps.store.getEndpoint(target.endpointId),
  ]);
  if (!claim.claimed) {
    if (claim.reason === 'not-found') return { outcome: 'not-found' };
    if (claim.reason !== 'not-due') return { outcome: 'finished' };
    const delaySeconds = Math.max(1, Math.ceil((Date.parse(claim.dueAt) - now.getTime()) / 1000));
    if (delaySeconds <= QUEUE_DELAY_CAP_SECONDS) await deps.scheduler.scheduleRetry(deliveryId, delaySeconds, target);
    return { outcome: 'not-due', delaySeconds };
  }
  const { delivery, claimId } = claim;
  const endpoint = knownEndpoint?.id === delivery.endpointId ? knownEndpoint : await deps.store.getEndpoint(delivery.endpointId);

  if (!endpoint || !endpoint.enabled) {
    await deps.store.markFailed(deliveryId, claimId, endpoint ? 'The endpoint is disabled.' : 'The endpoint was deleted.');
    return { outcome: 'endpoint-disabled' };
  }

  const check = await deps.guard.check(endpoint.url);
  if (check.ok) send.starting();
  const result: AttemptResult = check.ok
    ? await deps.sender.send(check.target, {
        id: delivery.eventId,
        body: JSON.stringify(delivery.event),
        secrets: signingSecrets(endpoint.secrets, now).map((s) => s.secret),
      })
    : { status: null, durationMs: 0, error: `URL refused: ${check.reason}`, responseSnippet: '', outcome: 'failed' };
  if (check.ok) send.sent(result);
  const attemptNumber = delivery.attemptCount + 1;
  const made: WebhookAttempt = { attempt: attemptNumber, at: now.toISOString(), ...result };

  const change = healthChange(endpoint, result.outcome, now);
  let then: DeliveryStateAfterAttempt;
  let disable: EndpointDisabledReason | undefined;
  let retryInSeconds: number | undefined;
  if (result.outcome === 'succeeded') {
    if (change) await deps.store.recordEndpointSuccess(endpoint.id, now);
    then = { status: 'succeeded' };
  } else {
    const failingSince = change ? await deps.store.recordEndpointFailure(endpoint.id, now) : (endpoint.failingSince ?? now.toISOString());
    if (result.outcome === 'gone') disable = 'gone';
    else if (failingTooLong(failingSince, now)) disable = 'failing';
    retryInSeconds = disable === undefined ? nextAttemptDelay(attemptNumber, random()) : undefined;
    if (disable !== undefined) {
      await deps.store.disableEndpoint(endpoint.id, disable, now);
      then = { status: 'failed', reason: disabledMessage(disable, now.toISOString()) };
    } else if (retryInSeconds === undefined) {
      then = { status: 'failed', reason: `All ${attemptNumber} attempts failed.` };
    } else {
      const nextAttemptAt = isoAfter(now, retryInSeconds);
      then = { status: 'pending', nextAttemptAt, checkAt: sweepCheckAt(nextAttemptAt, retryInSeconds <= QUEUE_DELAY_CAP_SECONDS) };
    }
  }

  if (!(await deps.store.recordAttempt(deliveryId, claimId, made, then))) return { outcome: 'duplicate' };
  if (retryInSeconds !== undefined && retryInSeconds <= QUEUE_DELAY_CAP_SECONDS) {
    await deps.scheduler.scheduleRetry(deliveryId, retryInSeconds, { attempt: attemptNumber + 1, endpointId: endpoint.id });
  }
  return {
    outcome: 'attempted',
    attempt: made,
    ...(retryInSeconds === undefined ? {} : { retryInSeconds }),
    ...(disable === undefined ? {} : { endpointDisabled: { reason: disable, message: disabledMessage(disable, now.toISOString()) } }),
  };
};

/** Dependencies of the overdue-delivery sweep. */
export interface SweepWebhookDeliveriesDeps {
  store: Pick<WebhookDeliveryStore, 'dueDeliveries'>;
  scheduler: WebhookRetryScheduler;
  clock: Clock;
}

/** Most deliveries one sweep run queues (one page of each due bucket). */
export const SWEEP_LIMIT = 2_000;

/**
 * The overdue-delivery sweep, every minute: queues the next attempt of every pending delivery
 * past the time it should have been looked at — a retry longer than the queue's delay cap at its
 * due time, a queued attempt whose message was lost (a local restart, a replaced queue) a
 * minute after its due time, a claim whose claimant died once its lease lapsed. It writes
 * nothing: the claim of step 2 above makes each attempt once, however many messages ask for it.
 */
export const sweepWebhookDeliveries = async (deps: SweepWebhookDeliveriesDeps): Promise<{ queued: number }> => {
  const due = await deps.store.dueDeliveries(deps.clock.now(), SWEEP_LIMIT);
  const sent = await Promise.allSettled(
    due.map((delivery) => deps.scheduler.scheduleRetry(delivery.deliveryId, 0, { attempt: delivery.attempt, endpointId: delivery.endpointId })),
  );
  const failed = sent.filter((result) => result.status === 'rejected');
  // What failed to queue is still due: the next run queues it.
  if (failed.length > 0) throw new Error(`${failed.length} of ${due.length} due webhook deliveries could not be queued: ${String((failed[0] as PromiseRejectedResult).reason)}`);
  return { queued: due.length };
};
