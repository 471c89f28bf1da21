import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC, countMetric, metrics } from '../../observability';
import { sweepExpiredCodes, type ExpirySweepDeps, type ExpirySweepResult } from '../../use-cases/expiry-sweep';
import { withObservability } from '../middleware';
import type { ConsumerHandlerOf } from '../consumer';

/** Time a run keeps back from its timeout to finish its last step and flush its metrics. */
const SAFETY_MARGIN_MS = 10_000;

/**
 * The expiry sweeper Lambda, run every minute by EventBridge Scheduler. A run's metrics are
 * emitted even when it fails (the sweep hands its result over before it throws).
 */
export const makeHandler = (deps: ExpirySweepDeps) =>
  withObservability(async (_event: unknown, context): Promise<void> => {
    const done: { result?: ExpirySweepResult } = {};
    try {
      await sweepExpiredCodes({ ...deps, deadline: Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS }, done);
    } finally {
      if (done.result) {
        countMetric(METRIC.codesExpired, done.result.expired);
        // 1 when the run left due codes behind: sustained 1s are a backlog that is not draining.
        metrics.addMetric(METRIC.expiryBacklog, MetricUnit.Count, done.result.backlogLeft ? 1 : 0);
        metrics.addMetric(METRIC.sweepDuration, MetricUnit.Milliseconds, done.result.durationMs);
      }
    }
  });

/** The ExpirySweeper consumer. */
export const consumerHandler: ConsumerHandlerOf<ReturnType<typeof makeHandler>> = (ports) => makeHandler({ expiry: ports.stores.expiry, clock: ports.clock });
