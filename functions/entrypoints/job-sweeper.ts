import { makeHandler } from '../handlers/schedule/job-sweeper';
import { productionJobSweeperDeps } from '../wiring';

/** Lambda entry point of the job sweeper (EventBridge Scheduler, every minute). */
export const handler = makeHandler(productionJobSweeperDeps());
