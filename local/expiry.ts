import { makeHandler as makeExpirySweeper } from '../functions/handlers/schedule/expiry-sweeper';
import { expirySweepDeps, type PipelinePorts } from '../functions/wiring';
import { ConsumerWiring } from './handlers';
import { runInvocation } from './lambda-context';

/**
 * The expiry sweeper's own handler, invoked as its schedule would (its logs carry its own
 * name, its time counts down from its catalog timeout), on the same ports as the rest of the
 * local pipeline. The local stack runs it on the job sweeper's timer, as AWS runs both every
 * minute.
 */
export const localExpirySweep = (ports: Pick<PipelinePorts, 'stores' | 'clock'>, wiring: ConsumerWiring = new ConsumerWiring()): (() => Promise<void>) => {
  const handler = makeExpirySweeper(expirySweepDeps(ports));
  wiring.entry('ExpirySweeper');
  return async () => {
    const context = wiring.context('ExpirySweeper');
    return runInvocation(context, () => handler(undefined, context));
  };
};
