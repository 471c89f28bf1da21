import { makeHandler } from '../handlers/schedule/billing-sweeper';
import { productionBillingSweepDeps } from '../wiring';

/** Lambda entry point of the billing sweeper (EventBridge Scheduler, every minute). */
export const handler = makeHandler(productionBillingSweepDeps());
