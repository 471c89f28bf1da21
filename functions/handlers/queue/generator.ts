import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseGenerateChunkMessage } from '../../contracts/queue-messages';
import { METRIC, countMetric } from '../../observability';
import { generateChunk, type ChunkRun, type GenerateDeps } from '../../use-cases/generation/generate-chunk';
import { withObservability } from '../middleware';
import { processSqsRecords } from './sqs-records';
import type { ConsumerHandlerOf } from '../consumer';
import { GENERATOR } from '../../contracts/pipeline-settings';
import { TokenBucket } from '../../use-cases/generation/generate-chunk';

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

/** The Generator consumer: its code writes paced to the table's share where the stack says so (one bucket for every chunk this instance runs). */
export const consumerHandler: ConsumerHandlerOf<ReturnType<typeof makeHandler>> = (ports) =>
  makeHandler({
    jobs: ports.stores.jobs,
    codes: ports.stores.codes,
    deliveries: ports.queues.delivery,
    clock: ports.clock,
    ...(ports.settings.paceCodeWrites ? { pace: new TokenBucket(GENERATOR.codesPerSecond) } : {}),
  });
