/** CloudWatch namespace of the service's business metrics (EMF): the functions emit, the dashboard and alarms read. */
export const METRICS_NAMESPACE = 'MemberPass';

/** The business metrics operators watch, by name: the dashboard and alarms use the same names. */
export const METRIC = {
  jobsQueued: 'jobsQueued',
  jobsCompleted: 'jobsCompleted',
  jobsFailed: 'jobsFailed',
  codesGenerated: 'codesGenerated',
  messagesDelivered: 'messagesDelivered',
  telegramThrottled: 'telegram429',
  /** Webhook attempts made (each HTTP POST to an endpoint, retries included). */
  webhookDeliveries: 'webhookDeliveries',
  /** Webhook attempts that did not succeed (non-2xx, timeout, refused URL). */
  webhookFailures: 'webhookFailures',
  /** Milliseconds one webhook attempt took (recorded with the Milliseconds unit). */
  webhookLatency: 'webhookLatency',
  /** Redemptions committed (a replay by the same subscriber is not counted again). */
  redemptions: 'redemptions',
  /** Committed redemptions beyond the period's free allotment. */
  overageRedemptions: 'overageRedemptions',
  /** Meter events Stripe has taken (a duplicate answer included). */
  meterEventsSent: 'meterEventsSent',
  /** Stripe calls that failed (retried or refused). */
  stripeFailures: 'stripeFailures',
  /** Billed redemptions Stripe has taken (the sum of the meter events' values). */
  billedUnits: 'billedUnits',
  /** Billing messages left with a window Stripe did not take, to be retried (a key refused, throttled, 5xx, unreachable). */
  billingRetries: 'billingRetries',
  /** Billing windows parked: Stripe refused the payload for good, or kept failing past the retry horizon. */
  billingParked: 'billingParked',
  /** Billing windows overdue at a billing sweep (due for over 10 minutes): usage is waiting on Stripe. */
  billingOverdue: 'billingOverdue',
  /** Codes the expiry sweep moved to expired in one run. */
  codesExpired: 'codesExpired',
  /** 1 when an expiry sweep left due codes for the next run, else 0. */
  expiryBacklog: 'expiryBacklog',
  /** Milliseconds one expiry sweep took. */
  sweepDuration: 'sweepDuration',
} as const;

/** The name of a business metric. */
export type MetricName = (typeof METRIC)[keyof typeof METRIC];
