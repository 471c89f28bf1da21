import { sweepJobs, type SweepDeps } from '../../use-cases/sweep-jobs';

/** The sweeper Lambda, run every minute by EventBridge Scheduler. */
export const makeHandler = (deps: SweepDeps) => async (): Promise<void> => {
  await sweepJobs(deps);
};
