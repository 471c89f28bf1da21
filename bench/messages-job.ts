/**
 * The messages-job figure of `npm run bench`: a 1000-code `messages` job (one Telegram message
 * per code) against the least time the fake Bot API's own per-chat limit allows.
 *
 * Telegram allows a chat about one message a second; the service sends one per
 * TELEGRAM.messageIntervalMs (1100 ms). Both are scaled down by the same factor so that a run
 * takes seconds, not 18 minutes: the fake Bot API enforces one message per 20 ms per chat (a
 * token bucket, short bursts of 3 as Telegram allows; beyond it, 429), and the deliverer pauses
 * 22 ms. Ours: from the 202 to `completed`. Floor: what the fake's bucket lets through at best,
 * its burst at once and the rest one per 20 ms, (1000 − 3) × 20 ms. Every run also checks that every
 * code of the job reached the chat exactly once (0 lost, 0 doubled).
 */
import { TELEGRAM } from '../functions/contracts/pipeline-settings';
import { atMost, median, type Bench, type BenchContext } from './figures';
import { BENCH_CHAT, startBenchService, type BenchService } from './service';

const QUANTITY = 1000;
const TARGET = 1.1;
/** Telegram's one second per chat becomes this many milliseconds. */
const TELEGRAM_INTERVAL_MS = 20;
const SCALE = 1000 / TELEGRAM_INTERVAL_MS;
/** Sends the fake lets a chat make at once before its interval applies. */
const TELEGRAM_BURST = 3;
/** The least time the fake Bot API lets a chat receive QUANTITY messages in. */
const FAKE_LIMIT_MS = (QUANTITY - TELEGRAM_BURST) * TELEGRAM_INTERVAL_MS;
/** The service's configured per-chat interval, scaled the same way. */
const MESSAGE_INTERVAL_MS = TELEGRAM.messageIntervalMs / SCALE;
/** Runs of this bench at most: each takes over 20 s. */
const MAX_RUNS = 3;
/** No further run starts after this much time: on a loaded machine one run can take minutes. */
const BUDGET_MS = 150_000;

/** The code at the end of a message (`… for "plan": XXXX-XXXX-XXXX`). */
const codeIn = (text: string) => /([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\s*$/.exec(text)?.[1];

/** Every code of a job, read back through list_access_codes, following next_cursor. */
const jobCodes = async (service: BenchService, jobId: string): Promise<string[]> => {
  const codes: string[] = [];
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ job_id: jobId, limit: '100', ...(cursor ? { cursor } : {}) });
    const answer = await service.call('GET', `/v1/plans/${service.planId}/access-codes?${query}`);
    if (answer.status !== 200) throw new Error(`list_access_codes answered ${answer.status}`);
    codes.push(...(answer.body.data.codes as Array<{ code: string }>).map((entry) => entry.code));
    cursor = answer.body.data.next_cursor ?? undefined;
  } while (cursor);
  return codes;
};

/** One messages job: its time from the 202 to `completed`, the codes lost and doubled, and the 429s it met. */
const messagesJob = async (service: BenchService) => {
  const callsBefore = service.fake.calls.length;
  const answer = await service.call('POST', '/v1/access-codes/bulk-generate', {
    plan_id: service.planId,
    quantity: QUANTITY,
    export_type: 'messages',
    consent: true,
    expiry_preset: 'no_expiry',
  });
  const accepted = performance.now();
  if (answer.status !== 202) throw new Error(`bulk-generate answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const jobId = answer.body.data.job_id as string;
  const acceptedAt = Date.now();
  const job = await service.waitForCompletion(jobId, { pollMs: 20 });
  const elapsed = performance.now() - accepted;
  // The job's own timestamps (the service runs on the real clock): generation, then delivery.
  const generating = Date.parse(job.generated_at) - acceptedAt;
  const delivering = Date.parse(job.completed_at) - Date.parse(job.generated_at);

  const sends = service.fake.calls.slice(callsBefore).filter((call) => call.method === 'sendMessage' && String(call.params.chat_id) === BENCH_CHAT);
  const received = sends.filter((call) => call.status === 200).map((call) => codeIn(String(call.params.text)) ?? '?');
  const expected = new Set((await jobCodes(service, jobId)).map((code) => code.replace(/-/g, '')));
  const seen = new Map<string, number>();
  for (const code of received) seen.set(code.replace(/-/g, ''), (seen.get(code.replace(/-/g, '')) ?? 0) + 1);
  const lost = [...expected].filter((code) => !seen.has(code)).length;
  // A code sent twice, or one that is not the job's, is one too many.
  const doubled = [...seen].reduce((sum, [code, count]) => sum + (expected.has(code) ? count - 1 : count), 0);
  if (expected.size !== QUANTITY) throw new Error(`the job holds ${expected.size} codes, not ${QUANTITY}`);
  return { elapsed, generating, delivering, lost, doubled, throttled: sends.filter((call) => call.chatLimited).length };
};

/** A 1000-code messages job against N ÷ the configured per-chat rate, Telegram's pace scaled down. */
export const messagesJobBench: Bench = {
  name: 'messages-job',
  title: `A ${QUANTITY}-code messages job, 202 → completed, against N ÷ the per-chat rate (Telegram's pace scaled ${SCALE}× faster)`,
  run: async (context: BenchContext) => {
    const service = await startBenchService({
      dynamoEndpoint: context.dynamoEndpoint,
      messageIntervalMs: MESSAGE_INTERVAL_MS,
      telegram: { chatPace: { intervalMs: TELEGRAM_INTERVAL_MS, burst: TELEGRAM_BURST } },
    });
    try {
      const runs = Math.min(MAX_RUNS, context.runs);
      const ours: number[] = [];
      const floor: number[] = [];
      const generating: number[] = [];
      const delivering: number[] = [];
      let lost = 0;
      let doubled = 0;
      let throttled = 0;
      const started = performance.now();
      for (let run = 1; run <= runs && (run === 1 || performance.now() - started < BUDGET_MS); run++) {
        const result = await messagesJob(service);
        ours.push(result.elapsed);
        generating.push(result.generating);
        delivering.push(result.delivering);
        floor.push(FAKE_LIMIT_MS);
        lost += result.lost;
        doubled += result.doubled;
        throttled += result.throttled;
        context.log(`run ${run}/${runs}: ${(result.elapsed / 1000).toFixed(1)} s, ${result.lost} lost, ${result.doubled} doubled, ${result.throttled} × 429`);
      }
      const figure = atMost(`${QUANTITY}-code messages job: 202 → completed`, 'ms', ours, floor, TARGET);
      const margin = (QUANTITY * MESSAGE_INTERVAL_MS) / FAKE_LIMIT_MS - 1;
      const note =
        `Scaled ${SCALE}× down so a run takes seconds: the fake Bot API allows a chat one message per ${TELEGRAM_INTERVAL_MS} ms (Telegram: 1 s), ` +
        `bursts of ${TELEGRAM_BURST}, and answers 429 beyond; the deliverer's per-chat interval is ${MESSAGE_INTERVAL_MS} ms (configured: ${TELEGRAM.messageIntervalMs} ms). ` +
        `Floor = (${QUANTITY} − ${TELEGRAM_BURST}) × ${TELEGRAM_INTERVAL_MS} ms = ${FAKE_LIMIT_MS} ms, the least time the fake Bot API's own limit allows; ` +
        `the configured interval alone (${QUANTITY} × ${MESSAGE_INTERVAL_MS} ms = ${QUANTITY * MESSAGE_INTERVAL_MS} ms, ${((QUANTITY * MESSAGE_INTERVAL_MS) / FAKE_LIMIT_MS).toFixed(2)}× the floor) is the service's own margin under it. Over ${ours.length} run${ours.length > 1 ? 's' : ''} (${ours.length * QUANTITY} codes; no run starts after ${BUDGET_MS / 1000} s): ` +
        `${lost} lost, ${doubled} doubled, ${throttled} sends refused with 429.` +
        (lost || doubled ? ' **Codes were lost or doubled.**' : '') +
        ` Medians from the job's own timestamps: generation ${(median(generating) / 1000).toFixed(1)} s, delivery ${(median(delivering) / 1000).toFixed(1)} s ` +
        `(${(median(delivering) / QUANTITY).toFixed(1)} ms a message against the ${MESSAGE_INTERVAL_MS} ms interval).` +
        (figure.met
          ? ''
          : ` Misses ${TARGET}× by ${(((figure.ratio - TARGET) / TARGET) * 100).toFixed(0)}%: ` +
            `the configured interval keeps ${(margin * 100).toFixed(0)}% above the fake's limit by design; measured: ${(median(delivering) / QUANTITY).toFixed(1)} ms a message ` +
            `against the ${MESSAGE_INTERVAL_MS} ms interval, generation ${(median(generating) / 1000).toFixed(1)} s before the first message.`);
      return { figures: [{ ...figure, met: figure.met && lost === 0 && doubled === 0, note }] };
    } finally {
      await service.stop();
    }
  },
};
