import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseGenerateChunkMessage } from '../../contracts/queue-messages';
import { generateChunk, type GenerateDeps } from '../../use-cases/generation/generate-chunk';
import { withObservability } from '../middleware';
import { processSqsRecords } from './sqs-records';

/** The generator Lambda: SQS batches of chunk messages from the generation queue, run side by side. */
export const makeHandler = (deps: GenerateDeps) =>
  withObservability(
    async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
      processSqsRecords(event, context, parseGenerateChunkMessage, (message) => generateChunk(deps, message.job_id, message.chunk), true),
  );
