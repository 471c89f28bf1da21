import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';
import { bulkGenerate, createCreator, quietBatchFailures, startPipelineHarness, waitForJob, type PipelineHarness } from '../support/pipeline';

let fake: FakeTelegram;
let harness: PipelineHarness;

beforeAll(async () => {
  quietBatchFailures();
  fake = await startFakeTelegram();
  harness = await startPipelineHarness(fake);
});
afterAll(async () => {
  await harness?.stop();
  await fake?.close();
});

describe('the local dead-letter queue', () => {
  // In AWS both pipeline queues redrive into one dead-letter queue whose consumer is the
  // DeadLetter function; locally the same handler, built by the same builder, consumes it.
  test.each([
    ['a chunk', (jobId: string) => ({ kind: 'generate-chunk', job_id: jobId, chunk: 0 })],
    ['a delivery', (jobId: string) => ({ kind: 'deliver', job_id: jobId, hops: 3 })],
  ])('%s on it fails its job with processing_failed, through the DeadLetter handler', async (_, message) => {
    const creator = await createCreator(harness);
    // A job whose enqueue was lost, so that nothing else moves it.
    harness.apiQueueFault = new Error('SQS is unavailable');
    const answer = await bulkGenerate(harness, creator.token, { plan_id: creator.planId, quantity: 3, export_type: 'file', expiry_preset: 'no_expiry' });
    harness.apiQueueFault = undefined;
    expect(answer.status).toBe(202);
    const jobId: string = answer.body.data.job_id;

    await harness.pipeline.deadLetters.send([{ body: message(jobId) }, { body: 'not a pipeline message' }]);
    await harness.pipeline.deadLetters.drain(30_000);
    expect(await waitForJob(harness, creator.token, jobId)).toMatchObject({ status: 'failed', failure: { code: 'processing_failed' } });
    expect(harness.pipeline.deadLetters.counters.failedInvocations).toBe(0);
  });
});
