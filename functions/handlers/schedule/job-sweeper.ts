import { METRIC, countMetric } from '../../observability';
import { sweepStalledJobs, type JobSweep, type JobSweeperDeps } from '../../use-cases/job-sweeper';
import { withObservability } from '../middleware';
import type { ConsumerHandlerOf } from '../consumer';

/** The job sweeper Lambda, run every minute by EventBridge Scheduler. Jobs it failed are counted even when the sweep throws part-way. */
export const makeHandler = (deps: JobSweeperDeps) =>
  withObservability(async (): Promise<void> => {
    const done: JobSweep = { requeued: [], failed: [] };
    try {
      await sweepStalledJobs(deps, done);
    } finally {
      countMetric(METRIC.jobsFailed, done.failed.length);
    }
  });

/** The Sweeper consumer (the job sweeper). */
export const consumerHandler: ConsumerHandlerOf<ReturnType<typeof makeHandler>> = (ports) =>
  makeHandler({ jobs: ports.stores.jobs, chats: ports.stores.chats, queue: ports.queues.generation, deliveries: ports.queues.delivery, clock: ports.clock });
