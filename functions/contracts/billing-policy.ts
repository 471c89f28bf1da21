/** Most redemptions in one window: its claim and its billed mark are each one transaction of window + records (≤ 100 items). */
export const MAX_WINDOW_SIZE = 50;

/** How billing retries and sweeps; `BILLING_POLICY` in production, scaled down in tests. */
export interface BillingPolicy {
  /** First retry delay after a failed try; doubled each try up to `retryCapMs`. */
  retryBaseMs: number;
  retryCapMs: number;
  /** Tries the billing queue itself redelivers (its visibility backoff); later tries are the sweep's. */
  queueRetryAttempts: number;
  /** A failing window is retried until its newest redemption is this old, then parked: Stripe takes timestamps of the past 35 days. */
  retryHorizonMs: number;
  /** How long a window just claimed is left to the call that claimed it before the sweep takes it over. */
  claimLeaseMs: number;
  /**
   * How old a queued or pending record must be before the sweep takes it: the fast path
   * (stream → forwarder → queue) normally has it by then, and a pending record's project has
   * by then been re-read past any cache of the commit path.
   */
  sweepGraceMs: number;
  /** Most due items one sweep takes per bucket (the next sweep takes the rest). */
  sweepLimit: number;
}

const DAY_MS = 86_400_000;

/** Production billing policy. */
export const BILLING_POLICY: BillingPolicy = {
  retryBaseMs: 1_000,
  retryCapMs: 3_600_000,
  // 1 + 2 + … + 2^11 s ≈ 68 minutes on the queue, then hourly by the sweep.
  queueRetryAttempts: 12,
  retryHorizonMs: 34 * DAY_MS,
  claimLeaseMs: 60_000,
  sweepGraceMs: 30_000,
  sweepLimit: 500,
};

/** How long a Stripe key read from Secrets Manager is trusted before it is read again. */
export const STRIPE_KEY_MAX_AGE_SECONDS = 300;
