import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger } from '../../observability';

/**
 * Runs `handle` on each record of an SQS batch whose body `parse` accepts, reporting failed
 * records one by one (ReportBatchItemFailures), so a retry redoes only them. A body that is not
 * such a message is logged and dropped, since retrying it can never succeed. `inParallel`:
 * whether the batch's records may run at once (Powertools' default) or one after another.
 */
export const processSqsRecords = <M extends { kind: string; job_id: string }>(
  event: SQSEvent,
  context: Context,
  parse: (body: string) => M | undefined,
  handle: (message: M) => Promise<void>,
  inParallel: boolean,
): Promise<SQSBatchResponse> =>
  // A processor per invocation: it holds the batch's state, and the local stack runs several
  // batches at once in one process.
  processPartialResponse(
    event,
    async (record: SQSRecord) => {
      const message = parse(record.body);
      if (!message) {
        logger.error('dropping a message that is not a pipeline message of this queue', { message_id: record.messageId });
        return;
      }
      try {
        await handle(message);
      } catch (error) {
        // Reported as a batch item failure: the queue redelivers it after the visibility timeout.
        logger.error('pipeline message failed; the queue will redeliver it', {
          message_id: record.messageId,
          receive_count: record.attributes.ApproximateReceiveCount,
          kind: message.kind,
          job_id: message.job_id,
          error: error as Error,
        });
        throw error;
      }
    },
    new BatchProcessor(EventType.SQS),
    { context, processInParallel: inParallel },
  );
