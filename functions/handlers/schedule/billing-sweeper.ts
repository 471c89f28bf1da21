import { METRIC, countMetric, logger } from '../../observability';
import { sweepBilling, type BillingSweepDeps } from '../../use-cases/bill-redemption';
import { withObservability } from '../middleware';

/**
 * The billing sweeper Lambda, run every minute by EventBridge Scheduler: queues the billing
 * windows whose retry is due and whatever the stream path left behind (`sweepBilling`).
 */
export const makeHandler = (deps: BillingSweepDeps) =>
  withObservability(async (): Promise<void> => {
    const result = await sweepBilling(deps);
    countMetric(METRIC.billingOverdue, result.windowsOverdue);
    if (result.windowsQueued + result.recordsClaimed + result.pendingRequeued + result.pendingSettled > 0) logger.info('billing sweep', { ...result });
  });
