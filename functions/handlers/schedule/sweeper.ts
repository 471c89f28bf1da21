import { sweepJobs, type SweepDeps } from '../../use-cases/sweep-jobs';
import { withObservability } from '../middleware';

/** The job sweeper Lambda, run every minute by EventBridge Scheduler. */
export const makeHandler = (deps: SweepDeps) =>
  withObservability(async (): Promise<void> => {
    await sweepJobs(deps);
  });
