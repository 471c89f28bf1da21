import type { PipelineMessage } from '../../contracts/queue-messages';
import type { JobStore } from '../../domain/ports';
import type { Clock } from '../../domain/ports';

/** Dependencies of the dead-letter consumer. */
export interface DeadLetterDeps {
  jobs: JobStore;
  clock: Clock;
}

/**
 * A pipeline message a queue gave up on (dead-lettered, from either queue): its job cannot
 * finish, so it fails now, with a reason, rather than wait for the job sweeper. A chat the job
 * held lapses with its lease, and the sweeper then pushes the jobs waiting for it. Whether this
 * call failed the job (false: it had ended already).
 */
export const failDeadLetteredJob = async (deps: DeadLetterDeps, message: PipelineMessage): Promise<{ failed: boolean }> => {
  const failed = await deps.jobs.failJob(
    message.job_id,
    { code: 'processing_failed', message: 'Generating or delivering the codes kept failing; the job was abandoned after repeated retries.' },
    deps.clock.now(),
  );
  return { failed };
};
