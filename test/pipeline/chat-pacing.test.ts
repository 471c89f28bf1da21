import { makeTelegramSender } from '../../functions/adapters/telegram/factory';
import { DeliveryThrottledError } from '../../functions/domain/errors';
import { startFakeTelegram, type FakeTelegram } from '../support/fake-telegram';
import { bulkGenerate, codesInMessages, createCreator, listAllCodes, quietBatchFailures, startPipelineHarness, waitForJob, type PipelineHarness } from '../support/pipeline';

// Telegram's pace, scaled down 25 times so the test takes seconds, not minutes: the fake allows
// a chat one message per 40 ms with bursts of 3 (Telegram: about one a second, short bursts),
// and the pipeline sends one message per 50 ms to a chat (production: 1100 ms against 1 s).
const CHAT_PACE = { intervalMs: 40, burst: 3 };
const MESSAGE_INTERVAL_MS = 50;

let fake: FakeTelegram;
let harness: PipelineHarness;

beforeAll(async () => {
  quietBatchFailures();
  fake = await startFakeTelegram({ chatPace: CHAT_PACE });
  harness = await startPipelineHarness(fake, { messageIntervalMs: MESSAGE_INTERVAL_MS });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await harness?.stop();
  await fake?.close();
});

/** The most sends to `chatId` that arrived within any window of `windowMs`. */
const mostWithin = (arrivals: number[], windowMs: number): number => {
  let most = 0;
  for (let i = 0, j = 0; j < arrivals.length; j++) {
    while (arrivals[j]! - arrivals[i]! >= windowMs) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
};

describe("the fake Bot API keeps Telegram's per-chat pace", () => {
  test('a chat sent to faster than its pace gets 429 once its burst is spent', async () => {
    // A pace of one a minute, so that no send of this test can have earned a new token.
    const slow = await startFakeTelegram({ chatPace: { intervalMs: 60_000, burst: CHAT_PACE.burst } });
    const telegram = makeTelegramSender({ botToken: '123456:TEST', apiRoot: slow.apiRoot });
    const outcomes: string[] = [];
    for (let i = 0; i < CHAT_PACE.burst + 1; i++) {
      outcomes.push(await telegram.sendMessage('555', `hello ${i}`).then(() => 'sent', (error) => (error instanceof DeliveryThrottledError ? '429' : String(error))));
    }
    await slow.close();
    expect(outcomes).toEqual(['sent', 'sent', 'sent', '429']);
    expect(slow.callsTo('sendMessage').filter((call) => call.chatLimited)).toHaveLength(1);
  });
});

describe('two messages jobs to one chat', () => {
  test('are delivered one job after the other at the chat’s pace: no 429, every code of both exactly once', async () => {
    const creator = await createCreator(harness);
    const start = async () => {
      const answer = await bulkGenerate(harness, creator.token, {
        plan_id: creator.planId,
        quantity: 12,
        export_type: 'messages',
        consent: true,
        expiry_preset: 'no_expiry',
      });
      expect(answer.status).toBe(202);
      return answer.body.data.job_id as string;
    };
    const jobIds = await Promise.all([start(), start()]);

    for (const jobId of jobIds) expect(await waitForJob(harness, creator.token, jobId)).toMatchObject({ status: 'completed', delivered_count: 12 });

    const sends = fake.calls.filter((call) => call.method === 'sendMessage' && String(call.params.chat_id) === creator.chatId);
    expect(sends.filter((call) => call.chatLimited)).toEqual([]);
    expect(sends.every((call) => call.status === 200)).toBe(true);
    // Within any one interval of the chat's pace, no more than its short burst.
    expect(mostWithin(sends.map((call) => call.at), CHAT_PACE.intervalMs)).toBeLessThanOrEqual(CHAT_PACE.burst);

    const received = codesInMessages(fake.messagesTo(creator.chatId));
    expect(received).toHaveLength(24);
    const jobOf = new Map<string, string>();
    for (const jobId of jobIds) {
      for (const code of (await listAllCodes(harness, creator.token, creator.planId, { job_id: jobId })).codes) jobOf.set(code.code, jobId);
    }
    expect([...received].sort()).toEqual([...jobOf.keys()].sort());
    // One job after the other, not interleaved: the chat was one job's at a time.
    const order = received.map((code) => jobOf.get(code));
    expect(order).toEqual([...Array(12).fill(order[0]), ...Array(12).fill(order[12])]);
    expect(order[0]).not.toBe(order[12]);
  });
});
