import type { DeliverMessage } from '../../functions/contracts/queue-messages';
import { deliverJob } from '../../functions/use-cases/generation/deliver-job';
import { startFakeTelegram, type FakeTelegram } from '../support/fake-telegram';
import { bulkGenerate, createCreator, quietBatchFailures, startPipelineHarness, type PipelineHarness } from '../support/pipeline';

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

describe('the pace of a messages job', () => {
  test('the pause between two messages counts from the previous send: the time a send and its write took is not waited again', async () => {
    const creator = await createCreator(harness);
    // Keep the job's delivery message, to run it by hand with a recording sleep.
    const queue = harness.deliveries;
    const held: DeliverMessage[] = [];
    queue.send = async (messages) => void held.push(...messages.map((message) => message.body));
    try {
      const answer = await bulkGenerate(harness, creator.token, { plan_id: creator.planId, quantity: 4, export_type: 'messages', consent: true, expiry_preset: 'no_expiry' });
      expect(answer.status).toBe(202);
      await harness.idle();
    } finally {
      delete (queue as unknown as Record<string, unknown>).send;
    }
    expect(held).toHaveLength(1);

    // Each send takes 30 ms of the (fake) clock; the interval is 100 ms.
    const telegram = harness.pipeline.telegram;
    const slow = {
      sendDocument: telegram.sendDocument.bind(telegram),
      sendMessage: async (chat: string, text: string) => {
        await telegram.sendMessage(chat, text);
        harness.clock.advance(30);
      },
    };
    const pauses: number[] = [];
    const sleep = async (ms: number) => {
      pauses.push(ms);
      harness.clock.advance(ms);
    };
    await deliverJob({ ...harness.deliveryDeps, telegram: slow, messageIntervalMs: 100, sleep }, held[0]!, { remainingMs: () => 60_000 });

    expect(fake.messagesTo(creator.chatId)).toHaveLength(4);
    // A whole interval before the first (the chat's previous sender), then 100 − 30 between sends.
    expect(pauses).toEqual([100, 70, 70, 70]);
  });
});
