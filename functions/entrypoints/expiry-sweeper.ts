import { makeHandler } from '../handlers/schedule/expiry-sweeper';
import { productionExpirySweepDeps } from '../wiring';

/** Lambda entry point of the expiry sweeper (EventBridge Scheduler, every minute). */
export const handler = makeHandler(productionExpirySweepDeps());
