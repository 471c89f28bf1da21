import { CONSUMERS } from '../../functions/contracts/consumers';
import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline';

// The local stack against the consumer catalog: it runs every consumer, each once, with the
// settings it read from the consumer's entry (local/handlers.ts: ConsumerWiring). A consumer the local stack did not run would be listed here
// with the reason; there is none.
const NOT_RUN_LOCALLY: Readonly<Record<string, string>> = {};

let fake: FakeTelegram;
let harness: PipelineHarness;

beforeAll(async () => {
  fake = await startFakeTelegram();
  harness = await startPipelineHarness(fake);
});
afterAll(async () => {
  await harness?.stop();
  await fake?.close();
});

describe('the local pipeline and the consumer catalog', () => {
  test('runs every consumer of the catalog, each once', () => {
    const run = harness.pipeline.consumers;
    expect(new Set(run).size).toBe(run.length);
    expect([...run].sort()).toEqual(CONSUMERS.map((consumer) => consumer.id).filter((id) => !(id in NOT_RUN_LOCALLY)).sort());
  });

  test('runs a scheduled consumer by hand through its own handler, and refuses one that is not scheduled', async () => {
    // The job and expiry sweepers' handlers answer nothing (what they did goes to their metrics).
    await expect(harness.pipeline.runScheduled('Sweeper')).resolves.toBeUndefined();
    await expect(harness.pipeline.runScheduled('ExpirySweeper')).resolves.toBeUndefined();
    await expect(harness.pipeline.runScheduled('Generator')).rejects.toThrow(/Generator is not a scheduled consumer/);
  });
});
