import * as v from 'valibot';

/** One billable redemption, as the biller reports it: one unit of the overage meter. */
export interface MeteredUsage {
  /** The redemption's id: Stripe's meter event `identifier`, so a retry can never bill twice. */
  redemptionId: string;
  stripeCustomerId: string;
  /** When the redemption committed (the meter event's `timestamp`). */
  timestamp: Date;
  value: 1;
}

/**
 * Reports billable usage to the billing provider (Stripe Billing Meters in production).
 * Implementations resolve when the usage is recorded, including when it had been recorded
 * before under the same `redemptionId` (a duplicate is success); they throw
 * `BillingUnavailableError` when trying again later can help (5xx, 429, network, timeout) and
 * `BillingRejectedError` when it cannot (any other 4xx).
 */
export interface UsageBiller {
  reportUsage(usage: MeteredUsage): Promise<void>;
}

/** The provider could not take the usage now (5xx, 429, unreachable, timed out): retry later. */
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

/** The provider refused the usage for good (a 4xx other than 429 and the duplicate answer). */
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

/** Which redemption a ledger mark is about, with the project and period its counters live under. */
export interface UsageRef {
  redemptionId: string;
  projectId: string;
  /** Billing period, `YYYY-MM` (UTC). */
  period: string;
}

/**
 * Where the billing state of each billable redemption is kept (the code store, later), for the
 * admin's usage report and to send pending usage once the project has a Stripe customer.
 * Every mark is idempotent, and `billed` is final: a later pending or failed mark of a billed
 * redemption changes nothing.
 */
export interface BillingLedger {
  /** True once `markBilled` was recorded for this redemption. */
  isBilled(redemptionId: string): Promise<boolean>;
  /** The provider has the usage. */
  markBilled(ref: UsageRef, at: Date): Promise<void>;
  /** Billable, but the project has no Stripe customer yet: kept, to go out once it has one. */
  markPending(ref: UsageRef, at: Date): Promise<void>;
  /** The provider refused it for good; kept with the reason for an operator. */
  markFailed(ref: UsageRef, reason: string, at: Date): Promise<void>;
}

/** `YYYY-MM`, a calendar month. */
const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;

/**
 * The billing queue's message: one billable redemption, written in the redemption's own commit
 * (through the outbox) and consumed by the billing function. Versioned by its fields: add
 * optional ones only.
 */
export const BillingMessageSchema = v.object({
  redemption_id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  project_id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  period: v.pipe(v.string(), v.regex(PERIOD, 'period must be YYYY-MM.')),
  /** The project's Stripe customer at commit time; null keeps the usage pending. */
  stripe_customer_id: v.nullable(v.pipe(v.string(), v.minLength(1), v.maxLength(255))),
  redeemed_at: v.pipe(v.string(), v.isoTimestamp('redeemed_at must be an ISO 8601 timestamp.')),
});

/** A billing queue message, as parsed. */
export type BillingMessage = v.InferOutput<typeof BillingMessageSchema>;

/** Parses a queue body into a billing message, or undefined when it is not one. */
export const parseBillingMessage = (body: string): BillingMessage | undefined => {
  try {
    const result = v.safeParse(BillingMessageSchema, JSON.parse(body));
    return result.success ? result.output : undefined;
  } catch {
    return undefined;
  }
};

/** The message group of a billing message on a FIFO queue: Stripe takes one call per customer at a time. */
export const billingMessageGroup = (message: BillingMessage): string => message.stripe_customer_id ?? `pending:${message.project_id}`;

/**
 * The billing queue (SQS FIFO in AWS): each message goes to its customer's group
 * (`billingMessageGroup`), deduplicated by its redemption id, so one customer's calls to Stripe
 * are serialised while different customers go in parallel.
 */
export interface BillingQueue {
  /** Enqueues all messages or throws; sending one again (same redemption) is harmless. */
  send(messages: readonly BillingMessage[]): Promise<void>;
}

/** The billing message of a stored billing record that is `queued` (has a customer), else undefined. */
export const billingMessageOfRecord = (item: Record<string, unknown>): BillingMessage | undefined => {
  if (item.type !== 'billing_record' || item.state !== 'queued' || typeof item.stripe_customer_id !== 'string') return undefined;
  return v.parse(BillingMessageSchema, {
    redemption_id: item.redemption_id,
    project_id: item.project_id,
    period: item.period,
    stripe_customer_id: item.stripe_customer_id,
    redeemed_at: item.redeemed_at,
  });
};
