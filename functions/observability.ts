import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { METRIC, METRICS_NAMESPACE, type MetricName } from './contracts/metrics';

export { METRIC, METRICS_NAMESPACE };

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'memberpass-access-codes';

/** The service's structured logger (Powertools); level from POWERTOOLS_LOG_LEVEL. */
export const logger = new Logger({ serviceName });



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



/** Counts `value` occurrences of a business metric in the current invocation. */
export const countMetric = (name: MetricName, value = 1): void => {
  if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
};
