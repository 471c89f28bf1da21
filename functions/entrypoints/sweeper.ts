import { makeHandler } from '../handlers/schedule/sweeper';
import { productionDeps } from '../wiring';

/** Lambda entry point of the sweeper (EventBridge Scheduler, every minute). */
export const handler = makeHandler(productionDeps());
