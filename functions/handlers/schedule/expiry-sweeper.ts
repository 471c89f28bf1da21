import { sweepExpiredCodes, type ExpirySweepDeps } from '../../use-cases/expiry-sweep';
import { withObservability } from '../middleware';

/** The expiry sweeper Lambda, run every minute by EventBridge Scheduler. */
export const makeHandler = (deps: ExpirySweepDeps) =>
  withObservability(async (): Promise<void> => {
    await sweepExpiredCodes(deps);
  });
