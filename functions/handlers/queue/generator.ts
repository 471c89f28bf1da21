import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger } from '../../observability';
import { withObservability } from '../middleware';
import { handlePipelineMessage, type PipelineDeps } from '../../use-cases/pipeline';
import { parsePipelineMessage } from '../../contracts/queue-messages';

/**
 * The generator Lambda: SQS batches of pipeline messages. Failed records are reported one by
 * one (ReportBatchItemFailures), so a retry redoes only them; a body that is not a pipeline
 * message is logged and dropped, since retrying it can never succeed.
 */
export const makeHandler = (deps: PipelineDeps) =>
  withObservability(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    // A processor per invocation: it holds the batch's state, and the local stack runs
    // several batches at once in one process.
    processPartialResponse(
      event,
      async (record: SQSRecord) => {
        const message = parsePipelineMessage(record.body);
        if (!message) {
          logger.error('dropping a message that is not a pipeline message', { message_id: record.messageId });
          return;
        }
        try {
          await handlePipelineMessage(deps, message, { remainingMs: () => context.getRemainingTimeInMillis() });
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
      { context },
    ),
  );
