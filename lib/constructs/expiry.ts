import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRIC } from '../../functions/contracts/metrics';
import { BUSINESS_NAMESPACE, SERVICE_NAME } from './service-function';
import type { ServiceMonitoring } from '../monitoring';

/**
 * The expiry sweeper's alarm beyond the per-function ones: runs that keep leaving due codes
 * behind. The sweeper itself is the ExpirySweeper consumer of the catalog
 * (functions/contracts/consumers.ts): a function of its own on a schedule of its own, with only
 * its own grants.
 */
export const addExpiryAlarms = (monitoring: ServiceMonitoring): void => {
  const backlog = new cloudwatch.Metric({
    namespace: BUSINESS_NAMESPACE,
    metricName: METRIC.expiryBacklog,
    dimensionsMap: { service: SERVICE_NAME },
    statistic: 'Minimum',
    period: Duration.minutes(5),
  });
  // Minimum 1 over 5 minutes: every run in it worked until its time was up and still left
  // due codes; three such periods in a row is a backlog growing faster than the sweep drains it.
  monitoring.alarm('ExpiryBacklogAlarm', backlog, {
    alarmDescription: 'Every expiry sweep for 15 minutes ran out of time with due codes left: codes are being expired late. See the ExpirySweeper logs (found, expired, pages, durationMs) and docs/CAPACITY.md (Expiry).',
    threshold: 1,
    evaluationPeriods: 3,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  });
};
