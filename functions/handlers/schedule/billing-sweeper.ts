import { METRIC, countMetric, logger } from '../../observability';
import { sweepBilling, type BillingSweepDeps } from '../../use-cases/bill-redemption';
import { withObservability } from '../middleware';
import type { ConsumerHandlerOf, ConsumerPorts } from '../consumer';

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

/** The billing sweep's dependencies from the BillingSweeper consumer's ports (the local stack also runs the sweep by hand on them). */
export const billingSweepDeps = (ports: ConsumerPorts): BillingSweepDeps => ({
  billing: ports.stores.billing,
  accounts: ports.stores.accounts,
  queue: ports.queues.billing,
  clock: ports.clock,
  policy: ports.settings.billingPolicy,
});

/** The BillingSweeper consumer. */
export const consumerHandler: ConsumerHandlerOf<ReturnType<typeof makeHandler>> = (ports) => makeHandler(billingSweepDeps(ports));
