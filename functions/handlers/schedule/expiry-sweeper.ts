import { sweepExpiredCodes, type ExpirySweepDeps } from '../../use-cases/expiry-sweep';
import { withObservability } from '../middleware';

/** Time a run keeps back from its timeout to finish its last step and flush its metrics. */
const SAFETY_MARGIN_MS = 10_000;

/** The expiry sweeper Lambda, run every minute by EventBridge Scheduler. */
export const makeHandler = (deps: ExpirySweepDeps) =>
  withObservability(async (_event: unknown, context): Promise<void> => {
    await sweepExpiredCodes({ ...deps, deadline: Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS });
  });
