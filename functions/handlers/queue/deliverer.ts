import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseDeliverMessage } from '../../contracts/queue-messages';
import { deliverJob, type DeliveryDeps } from '../../use-cases/generation/deliver-job';
import { withObservability } from '../middleware';
import { processSqsRecords } from './sqs-records';

/**
 * The deliverer Lambda: delivery messages from the delivery queue. Records run one after
 * another, never side by side, so that an invocation sends to one chat at a time at most: the
 * bot's budget (DELIVERER in pipeline-settings) counts on it, whatever the batch size.
 */
export const makeHandler = (deps: DeliveryDeps) =>
  withObservability(
    async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
      processSqsRecords(
        event,
        context,
        parseDeliverMessage,
        (message) => deliverJob(deps, message, { remainingMs: () => context.getRemainingTimeInMillis() }),
        false,
      ),
  );
