import type { SQSEvent } from 'aws-lambda';
import { METRIC, countMetric, logger } from '../../observability';
import { withObservability } from '../middleware';
import { failDeadLetteredJob, type DeadLetterDeps } from '../../use-cases/generation/fail-dead-lettered-job';
import { parsePipelineMessage } from '../../contracts/queue-messages';
import type { ConsumerHandlerOf } from '../consumer';

/** The dead-letter Lambda: a message either pipeline queue gave up on fails its job with a reason. */
export const makeHandler = (deps: DeadLetterDeps) =>
  withObservability(async (event: SQSEvent): Promise<void> => {
    for (const record of event.Records) {
      const message = parsePipelineMessage(record.body);
      if (!message) {
        logger.error('dead-lettered message is not a pipeline message', { message_id: record.messageId });
        continue;
      }
      const { failed } = await failDeadLetteredJob(deps, message);
      if (failed) countMetric(METRIC.jobsFailed);
    }
  });

/** The DeadLetter consumer. */
export const consumerHandler: ConsumerHandlerOf<ReturnType<typeof makeHandler>> = (ports) => makeHandler({ jobs: ports.stores.jobs, clock: ports.clock });
