import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseGenerateChunkMessage } from '../../contracts/queue-messages';
import { METRIC, countMetric } from '../../observability';
import { generateChunk, type ChunkRun, type GenerateDeps } from '../../use-cases/generation/generate-chunk';
import { withObservability } from '../middleware';
import { processSqsRecords } from './sqs-records';

/**
 * The generator Lambda: SQS batches of chunk messages from the generation queue, run side by side.
 * The codes a chunk stored are counted even when a later step of it fails (the retry stores none again).
 */
export const makeHandler = (deps: GenerateDeps) =>
  withObservability(
    async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
      processSqsRecords(
        event,
        context,
        parseGenerateChunkMessage,
        async (message) => {
          const done: ChunkRun = { codesStored: 0 };
          try {
            await generateChunk(deps, message.job_id, message.chunk, done);
          } finally {
            countMetric(METRIC.codesGenerated, done.codesStored);
          }
        },
        true,
      ),
  );
