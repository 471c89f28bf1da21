import { MAX_WINDOW_SIZE, type BillingPolicy } from '../contracts/billing-policy';
import type { BillingMessage } from '../contracts/queue-messages';

/**
 * One meter event: `value` billed redemptions of one customer, under an identifier that names
 * the billing window holding them, so that sending it again can never bill twice.
 */
export interface MeteredUsage {
  /** Stripe's meter event `identifier`: the billing window's id. */
  identifier: string;
  stripeCustomerId: string;
  /** The meter event's `timestamp` (Stripe takes the past 35 days, up to 5 minutes ahead). */
  timestamp: Date;
  /** Billed redemptions in the event, ≥ 1. */
  value: number;
}

/** The provider could not take the usage now (a key refused, rate limited, 5xx, unreachable): retry later. */
export class BillingUnavailableError extends Error {
  constructor(
    message: string,
    /** The HTTP status, when there was an answer at all. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BillingUnavailableError';
  }
}

/** The provider refused the payload for good (a 4xx other than 401, 403, 409, 429 and the duplicate answer). */
export class BillingRejectedError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The provider's machine code (e.g. Stripe's `resource_missing`), when it sent one. */
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BillingRejectedError';
  }
}

/**
 * Where a billed redemption stands. `pending`: its project had no Stripe customer at commit
 * time. `queued`: waiting to be put in a billing window. `sending`: held by a window that has
 * not reached Stripe yet (retried until it does). `billed`: Stripe has it (final). `parked`:
 * Stripe refused its window's payload for good; `admin billing replay` queues it again.
 * `no_charge`: beyond the allotment at a price of 0: counted in usage, never billed, never due.
 */
export type BillingState = 'pending' | 'queued' | 'sending' | 'billed' | 'parked' | 'no_charge';

/** The billing record of one billed redemption, written in the redemption's own commit. */
export interface BillingRecord {
  redemptionId: string;
  projectId: string;
  /** `YYYY-MM` (UTC) of the redemption. */
  period: string;
  /** The project's Stripe customer when the record was (re)queued; null while pending. */
  stripeCustomerId: string | null;
  redeemedAt: string;
  state: BillingState;
  /** The billing window holding it (sending, billed, parked). */
  windowId: string | null;
  /** Why Stripe refused its window, when parked. */
  reason: string | null;
  updatedAt: string;
}

/** Where a billing window stands: `sending` until Stripe takes it (`billed`) or refuses its payload (`parked`). */
export type BillingWindowState = 'sending' | 'billed' | 'parked';

/**
 * One meter event in the making: the billed redemptions of one customer and period that were
 * claimed together, in one transaction, so that each redemption is in exactly one window and a
 * window's event is the same on every try.
 */
export interface BillingWindow {
  /** `bwn_<ulid>`: the meter event's identifier. */
  id: string;
  stripeCustomerId: string;
  period: string;
  redemptionIds: string[];
  /** The meter event's timestamp: the latest redemption of the window. */
  timestamp: string;
  state: BillingWindowState;
  /** Tries that Stripe did not take. */
  attempts: number;
  /** Not sent again before this instant (ISO). */
  nextAttemptAt: string;
  /** The first failed try, while the window keeps failing. */
  firstFailureAt: string | null;
  lastError: string | null;
  createdAt: string;
}

export { BILLING_POLICY, MAX_WINDOW_SIZE, type BillingPolicy } from '../contracts/billing-policy';

const DAY_MS = 86_400_000;

/** The delay before try `attempts + 1` after `attempts` failed tries (≥ 1). */
export const retryDelayMs = (policy: Pick<BillingPolicy, 'retryBaseMs' | 'retryCapMs'>, attempts: number): number =>
  Math.min(policy.retryCapMs, policy.retryBaseMs * 2 ** Math.min(40, Math.max(0, attempts - 1)));

const STRIPE_PAST_LIMIT_MS = 35 * DAY_MS;
/** Margin inside Stripe's 35 days, so that a timestamp accepted here is not refused on arrival. */
const STRIPE_PAST_MARGIN_MS = DAY_MS;

/**
 * The meter event's timestamp for a window: its newest redemption, brought into Stripe's
 * accepted range (the past 35 days, not in the future). Only a replay of usage parked for over
 * a month moves it: such usage is billed late rather than never.
 */
export const meterTimestamp = (window: Pick<BillingWindow, 'timestamp'>, now: Date): Date => {
  const at = new Date(window.timestamp).getTime();
  const earliest = now.getTime() - STRIPE_PAST_LIMIT_MS + STRIPE_PAST_MARGIN_MS;
  return new Date(Math.min(now.getTime(), Math.max(earliest, at)));
};

/** The meter event of a window. */
export const usageOfWindow = (window: BillingWindow, now: Date): MeteredUsage => ({
  identifier: window.id,
  stripeCustomerId: window.stripeCustomerId,
  timestamp: meterTimestamp(window, now),
  value: window.redemptionIds.length,
});

/** The queued billing records as `records` messages: one per customer and period, at most `MAX_WINDOW_SIZE` ids each. */
export const recordsMessages = (records: ReadonlyArray<Pick<BillingRecord, 'redemptionId' | 'stripeCustomerId' | 'period'>>): BillingMessage[] => {
  const groups = new Map<string, { customer: string; period: string; ids: string[] }>();
  for (const record of records) {
    if (!record.stripeCustomerId) continue;
    const key = `${record.stripeCustomerId}\u0000${record.period}`;
    const group = groups.get(key) ?? { customer: record.stripeCustomerId, period: record.period, ids: [] };
    group.ids.push(record.redemptionId);
    groups.set(key, group);
  }
  const messages: BillingMessage[] = [];
  for (const group of groups.values()) {
    for (let start = 0; start < group.ids.length; start += MAX_WINDOW_SIZE) {
      messages.push({ kind: 'records', stripe_customer_id: group.customer, period: group.period, redemption_ids: group.ids.slice(start, start + MAX_WINDOW_SIZE) });
    }
  }
  return messages;
};

/** The `window` message that (re)sends a window, queued at `now`. */
export const windowMessage = (window: Pick<BillingWindow, 'id' | 'stripeCustomerId' | 'attempts'>, now: Date): BillingMessage => ({
  kind: 'window',
  stripe_customer_id: window.stripeCustomerId,
  window_id: window.id,
  attempts: window.attempts,
  queued_at: now.toISOString(),
});

/** The billing record of a stored item, when it is one that is `queued` with a customer (what the forwarder forwards). */
export const queuedRecordOfItem = (item: Record<string, unknown>): Pick<BillingRecord, 'redemptionId' | 'stripeCustomerId' | 'period'> | undefined => {
  if (item.type !== 'billing_record' || item.state !== 'queued' || typeof item.stripe_customer_id !== 'string' || !item.stripe_customer_id) return undefined;
  if (typeof item.redemption_id !== 'string' || typeof item.period !== 'string') return undefined;
  return { redemptionId: item.redemption_id, stripeCustomerId: item.stripe_customer_id, period: item.period };
};

