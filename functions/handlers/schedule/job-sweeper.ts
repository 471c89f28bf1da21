import { sweepStalledJobs, type JobSweeperDeps } from '../../use-cases/job-sweeper';
import { withObservability } from '../middleware';

/** The job sweeper Lambda, run every minute by EventBridge Scheduler. */
export const makeHandler = (deps: JobSweeperDeps) =>
  withObservability(async (): Promise<void> => {
    await sweepStalledJobs(deps);
  });
