import { makeHandler as makeExpirySweeper } from '../functions/handlers/schedule/expiry-sweeper';
import { expirySweepDeps, type PipelinePorts } from '../functions/wiring';
import { localLambdaContext, runInvocation } from './lambda-context';

/**
 * The expiry sweeper's own handler, invoked as its schedule would (its logs carry its own
 * name), on the same ports as the rest of the local pipeline. The local stack runs it on the
 * job sweeper's timer (SWEEP_INTERVAL_MS), as AWS runs both every minute.
 */
export const localExpirySweep = (ports: Pick<PipelinePorts, 'stores' | 'clock'>): (() => Promise<void>) => {
  const handler = makeExpirySweeper(expirySweepDeps(ports));
  return async () => {
    // The Lambda's 70-second timeout (lib/constructs/expiry.ts), counting down from the start of the run.
    const until = Date.now() + 70_000;
    const context = localLambdaContext({ functionName: 'ExpirySweeper', remainingMs: () => until - Date.now() });
    return runInvocation(context, () => handler(undefined, context));
  };
};
