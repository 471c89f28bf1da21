import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'memberpass-access-codes';

/** The service's structured logger (Powertools); level from POWERTOOLS_LOG_LEVEL. */
export const logger = new Logger({ serviceName });

/**
 * The service's tracer (Powertools). It records only inside Lambda with X-Ray on; elsewhere
 * (the local stack, tests) it is a no-op, so wiring can capture every SDK client unconditionally.
 */
export const tracer = new Tracer({ serviceName });

/** CloudWatch namespace of the service's business metrics (EMF). */
export const METRICS_NAMESPACE = 'MemberPass';

/**
 * What Powertools Metrics says about itself goes to the service logger; its one warning, that an
 * invocation emitted no metric, is normal here (most invocations emit none), so it is a debug line.
 */
const metricsLogger = {
  trace: (...content: unknown[]) => logger.trace(String(content[0]), ...content.slice(1).map((c) => ({ detail: c }))),
  debug: (...content: unknown[]) => logger.debug(String(content[0])),
  info: (...content: unknown[]) => logger.info(String(content[0])),
  warn: (...content: unknown[]) => logger.debug(String(content[0])),
  error: (...content: unknown[]) => logger.error(String(content[0])),
};

/** The service's metrics (Powertools, EMF on stdout); flushed by each handler's middleware. */
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName, logger: metricsLogger });

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
  /** Codes the expiry sweep moved to expired in one run. */
  codesExpired: 'codesExpired',
  /** 1 when an expiry sweep left due codes for the next run, else 0. */
  expiryBacklog: 'expiryBacklog',
  /** Milliseconds one expiry sweep took. */
  sweepDuration: 'sweepDuration',
} as const;

/** Counts `value` occurrences of a business metric in the current invocation. */
export const countMetric = (name: (typeof METRIC)[keyof typeof METRIC], value = 1): void => {
  if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
};
