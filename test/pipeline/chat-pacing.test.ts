import { makeTelegramSender } from '../../functions/adapters/telegram/factory';
import { DeliveryThrottledError } from '../../functions/domain/errors';
import { groupMessageIntervalFor } from '../../functions/contracts/pipeline-settings';
import { startFakeTelegram, TELEGRAM_GROUP_LIMIT, type FakeTelegram } from '../../local/fakes/fake-telegram';
import { bulkGenerate, codesInMessages, createCreator, listAllCodes, quietBatchFailures, startPipelineHarness, waitForJob, type PipelineHarness } from '../support/pipeline';

// Telegram's pace, scaled down 25 times so the test takes seconds, not minutes: the fake allows
// a chat one message per 40 ms with bursts of 3 (Telegram: about one a second, short bursts),
// and a group 20 messages per 2.4 s (Telegram: 20 a minute); the pipeline sends one message per
// 50 ms to a chat (production: 1100 ms against 1 s) and, scaled with it, one per 141 ms to a
// group (production: 3100 ms against 3 s).
const CHAT_PACE = { intervalMs: 40, burst: 3 };
const GROUP_LIMIT = { windowMs: TELEGRAM_GROUP_LIMIT.windowMs / 25, max: TELEGRAM_GROUP_LIMIT.max };
const MESSAGE_INTERVAL_MS = 50;

let fake: FakeTelegram;
let harness: PipelineHarness;

beforeAll(async () => {
  quietBatchFailures();
  fake = await startFakeTelegram({ chatPace: CHAT_PACE, groupLimit: GROUP_LIMIT });
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

  test("a group (negative chat id) sent more than Telegram's 20 a minute gets 429 with retry_after; a private chat does not", async () => {
    // Telegram's own limit, unscaled: no send of this test can leave the minute's window.
    const fakeApi = await startFakeTelegram();
    const telegram = makeTelegramSender({ botToken: '123456:TEST', apiRoot: fakeApi.apiRoot });
    const sendAll = async (chatId: string) => {
      const outcomes: Array<string | number> = [];
      for (let i = 0; i <= TELEGRAM_GROUP_LIMIT.max; i++) {
        outcomes.push(await telegram.sendMessage(chatId, `hello ${i}`).then(() => 'sent', (error) => (error instanceof DeliveryThrottledError ? error.retryAfterSeconds : String(error))));
      }
      return outcomes;
    };
    const group = await sendAll('-1001234567890');
    const user = await sendAll('555');
    await fakeApi.close();
    expect(group.slice(0, TELEGRAM_GROUP_LIMIT.max)).toEqual(Array(TELEGRAM_GROUP_LIMIT.max).fill('sent'));
    // Until the oldest send leaves the minute: most of a minute.
    expect(group[TELEGRAM_GROUP_LIMIT.max]).toBeGreaterThan(50);
    expect(fakeApi.callsTo('sendMessage').filter((call) => call.groupLimited).map((call) => call.params.chat_id)).toEqual(['-1001234567890']);
    expect(user).toEqual(Array(TELEGRAM_GROUP_LIMIT.max + 1).fill('sent'));
  });
});

describe('a messages job to a group chat', () => {
  test("is paced at the group's limit: every code delivered once, 0 refusals", async () => {
    const creator = await createCreator(harness);
    const groupId = `-100${creator.chatId}`;
    await harness.table.accounts.setTelegramChat(creator.projectId, groupId);
    // More codes than the group's limit per window, so that the private pace would be refused.
    const quantity = GROUP_LIMIT.max + 10;
    const answer = await bulkGenerate(harness, creator.token, { plan_id: creator.planId, quantity, export_type: 'messages', consent: true, expiry_preset: 'no_expiry' });
    expect(answer.status).toBe(202);
    expect(await waitForJob(harness, creator.token, answer.body.data.job_id)).toMatchObject({ status: 'completed', delivered_count: quantity });

    const sends = fake.calls.filter((call) => call.method === 'sendMessage' && String(call.params.chat_id) === groupId);
    expect(sends.filter((call) => call.status !== 200)).toEqual([]);
    expect(sends).toHaveLength(quantity);
    expect(mostWithin(sends.map((call) => call.at), GROUP_LIMIT.windowMs)).toBeLessThanOrEqual(GROUP_LIMIT.max);
    const received = codesInMessages(fake.messagesTo(groupId));
    const listed = (await listAllCodes(harness, creator.token, creator.planId, { job_id: answer.body.data.job_id })).codes.map((code: { code: string }) => code.code);
    expect([...received].sort()).toEqual([...listed].sort());
    expect(new Set(received).size).toBe(quantity);
    // The pace the pipeline used (the production ratio of the private pace): max + 1 sends take longer than the window.
    expect(groupMessageIntervalFor(MESSAGE_INTERVAL_MS) * GROUP_LIMIT.max).toBeGreaterThan(GROUP_LIMIT.windowMs);
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
