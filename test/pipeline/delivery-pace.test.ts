import { groupMessageIntervalFor, TELEGRAM } from '../../functions/contracts/pipeline-settings';
import type { DeliverMessage } from '../../functions/contracts/queue-messages';
import { deliverJob } from '../../functions/use-cases/generation/deliver-job';
import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';
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
  /** Queues a 4-code messages job for a new creator and returns its delivery message, held back from the queue. */
  const heldDelivery = async (chatId?: string) => {
    const creator = await createCreator(harness);
    if (chatId !== undefined) await harness.table.accounts.setTelegramChat(creator.projectId, chatId);
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
    return { chatId: chatId ?? creator.chatId, message: held[0]! };
  };

  /** Runs a delivery by hand: each send takes 30 ms of the (fake) clock; returns the pauses it made. */
  const deliverRecordingPauses = async (message: DeliverMessage, pace: { messageIntervalMs: number; groupMessageIntervalMs?: number }) => {
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
    await deliverJob({ ...harness.deliveryDeps, telegram: slow, ...pace, sleep }, message, { remainingMs: () => 60_000 });
    return pauses;
  };

  test('the pause between two messages counts from the previous send: the time a send and its write took is not waited again', async () => {
    const { chatId, message } = await heldDelivery();
    const pauses = await deliverRecordingPauses(message, { messageIntervalMs: 100, groupMessageIntervalMs: 1000 });
    expect(fake.messagesTo(chatId)).toHaveLength(4);
    // A whole interval before the first (the chat's previous sender), then 100 − 30 between sends.
    expect(pauses).toEqual([100, 70, 70, 70]);
  });

  test("a group (negative chat id) is paced at the group interval, by default the private one scaled to Telegram's 20 a minute", async () => {
    const first = await heldDelivery('-1009000001');
    expect(await deliverRecordingPauses(first.message, { messageIntervalMs: 100, groupMessageIntervalMs: 300 })).toEqual([300, 270, 270, 270]);
    expect(fake.messagesTo(first.chatId)).toHaveLength(4);
    // Without a group interval: 1100 ms private gives 3100 ms (about 19 a minute), scaled alike.
    expect(groupMessageIntervalFor(TELEGRAM.messageIntervalMs)).toBe(TELEGRAM.groupMessageIntervalMs);
    expect(60_000 / TELEGRAM.groupMessageIntervalMs).toBeLessThan(20);
    const second = await heldDelivery('-1009000002');
    expect(await deliverRecordingPauses(second.message, { messageIntervalMs: 110 })).toEqual([310, 280, 280, 280]);
  });
});
