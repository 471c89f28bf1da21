/**
 * The webhook figures of `npm run bench`: one burst of 1,000 events published onto the local
 * stack's bus with one endpoint registered, delivered through the same path as in AWS (the
 * EVENT_RULES rule → webhook-dispatch → delivery queue → webhook-delivery → real HTTP) to a
 * receiver on 127.0.0.1 that verifies every signature. Deliveries per second against the same
 * 1,000 signed POSTs sent straight to the receiver at the delivery queue's concurrency, and
 * publish-to-receipt latency (p50, p99; target p99 ≤ 1 s) against one bare POST's round trip.
 * Every event must arrive exactly once (by webhook-id), verified.
 */
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { DynamoAccountStore } from '../functions/adapters/dynamodb/account-store';
import { makeDocumentClient } from '../functions/adapters/dynamodb/client';
import { WEBHOOK_DELIVERY } from '../functions/contracts/pipeline-settings';
import { randomCode } from '../functions/domain/access-codes';
import { newId } from '../functions/domain/ids';
import { systemClock } from '../functions/domain/ports';
import { redeemedEvent } from '../functions/domain/redemption';
import * as admin from '../functions/use-cases/admin';
import { localClientConfig } from '../local/dynamodb-local';
import { startWebhookReceiver, type ReceivedWebhook } from '../test/support/webhook-receiver';
import { atLeast, median, quantile, type Bench, type BenchContext, type BenchResult, type Figure } from './figures';
import { startBenchStack } from './service';

/** Events in one burst, as the issue says. */
const BURST = 1_000;
/** A small burst first (JIT, connections, the JVM), not counted. */
const WARM_UP = 50;
/** The floor's concurrency: the delivery queue's (batch size 1, so one POST per invocation). */
const CONCURRENCY = WEBHOOK_DELIVERY.maxConcurrency * WEBHOOK_DELIVERY.batchSize;
/** Bare round trips measured for the latency floor. */
const ROUND_TRIPS = 20;
/** Events published one at a time for the unqueued latency, and the gap between them. */
const PACED = 50;
const PACED_GAP_MS = 100;
/** Longest a burst may take to arrive before the bench gives up on it. */
const BURST_TIMEOUT_MS = 180_000;
const P99_TARGET_MS = 1_000;
/** Runs at most: one burst takes tens of seconds on DynamoDB Local, and the whole bench has minutes. */
const MAX_RUNS = 2;

/** What one burst measured. */
interface Burst {
  rate: number;
  p50: number;
  p99: number;
  lost: number;
  doubled: number;
  unverified: number;
}

const measure = async (context: BenchContext): Promise<BenchResult> => {
  const db = makeDocumentClient(localClientConfig(context.dynamoEndpoint));
  // Receivers on 127.0.0.1 need the guard's local setting (WEBHOOK_ALLOW_PRIVATE_URLS=1).
  const stack = await startBenchStack({ dynamoEndpoint: context.dynamoEndpoint, name: 'webhooks', webhooks: { allowPrivateUrls: true } });
  const { tableName, local, http } = stack;
  const receiver = await startWebhookReceiver({ secrets: [] });
  try {
    const adminDeps = { accounts: new DynamoAccountStore(db, tableName), clock: systemClock };
    const { team_id: teamId } = await admin.createTeam(adminDeps, { name: 'Bench' });
    const tier = { freeAllotment: 1_000_000, unitPriceMinor: 3, currency: 'USD' };
    const { project_id: projectId } = await admin.createProject(adminDeps, { teamId, name: 'Bench', tier });
    const { plan_id: planId } = await admin.createPlan(adminDeps, { projectId, name: 'Bench plan' });
    const { token } = await admin.createToken(adminDeps, { teamId, abilities: ['project-access-code:create', 'project-access-code:view-any'] });
    const created = await fetch(`${http.url}/v1/webhook-endpoints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ project_id: projectId, url: receiver.url(), events: ['access_code.*'] }),
    });
    const endpoint = (await created.json()) as { data?: { secret?: string } };
    if (created.status !== 201 || !endpoint.data?.secret) throw new Error(`creating the webhook endpoint answered ${created.status}`);
    const secret = endpoint.data.secret;
    receiver.setSecrets([secret]);

    /**
     * `count` events through the stack, all in one publish (gapMs 0: a burst) or one at a time
     * `gapMs` apart: rate, publish-to-receipt latencies, lost, doubled.
     */
    const burst = async (count: number, gapMs = 0): Promise<Burst> => {
      const events = Array.from({ length: count }, () =>
        redeemedEvent({ projectId, subscriptionId: newId('subscription'), planId, subscriberId: `sub_${randomUUID()}`, code: randomCode() }, new Date()),
      );
      const ids = new Set(events.map((event) => event.id));
      const arrivals = new Map<string, number>();
      const publishedAt = new Map<string, number>();
      const seen: ReceivedWebhook[] = [];
      let allArrived: () => void = () => undefined;
      const arrived = new Promise<void>((resolve) => (allArrived = resolve));
      const stop = receiver.onWebhook((webhook) => {
        if (!ids.has(webhook.id)) return;
        seen.push(webhook);
        if (!arrivals.has(webhook.id)) arrivals.set(webhook.id, performance.now());
        if (arrivals.size === count) allArrived();
      });
      const published = performance.now();
      try {
        if (gapMs === 0) {
          for (const event of events) publishedAt.set(event.id, published);
          await local.pipeline.bus.publish(events);
        } else {
          for (const event of events) {
            publishedAt.set(event.id, performance.now());
            await local.pipeline.bus.publish([event]);
            await new Promise((resolve) => setTimeout(resolve, gapMs));
          }
        }
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          arrived,
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${arrivals.size} of ${count} webhooks arrived within ${BURST_TIMEOUT_MS} ms`)), BURST_TIMEOUT_MS))),
        ]).finally(() => clearTimeout(timer));
        // Anything still in flight (a retry, a second delivery) lands before counting doubles.
        await local.pipeline.bus.idle();
        await local.pipeline.webhooks.idle();
      } finally {
        stop();
      }
      const latencies = [...arrivals].map(([id, at]) => at - publishedAt.get(id)!);
      return {
        rate: (count * 1000) / (Math.max(...arrivals.values()) - published),
        p50: quantile(latencies, 0.5),
        p99: quantile(latencies, 0.99),
        lost: count - arrivals.size,
        doubled: seen.length - arrivals.size,
        unverified: seen.filter((webhook) => !webhook.verified || webhook.status !== 200).length,
      };
    };

    const signer = new Webhook(secret);
    /** One signed POST straight to the receiver, as the deliverer sends it. */
    const post = async (): Promise<void> => {
      const id = newId('event');
      const body = JSON.stringify(redeemedEvent({ projectId, subscriptionId: newId('subscription'), planId, subscriberId: 'sub_floor', code: randomCode() }, new Date(), id));
      const at = new Date();
      const response = await fetch(receiver.url(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signer.sign(id, at, body) },
        body,
      });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`the receiver answered a bare POST ${response.status}`);
    };
    /** `count` signed POSTs at CONCURRENCY: per second. */
    const floorRate = async (count: number): Promise<number> => {
      let left = count;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (left-- > 0) await post();
        }),
      );
      return (count * 1000) / (performance.now() - started);
    };
    /** The median of ROUND_TRIPS single POSTs, one after another. */
    const roundTrip = async (): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const started = performance.now();
        await post();
        times.push(performance.now() - started);
      }
      return median(times);
    };

    await burst(WARM_UP);
    await floorRate(WARM_UP);
    const bursts: Burst[] = [];
    const paced: Burst[] = [];
    const floorRates: number[] = [];
    const roundTrips: number[] = [];
    const runs = Math.min(context.runs, MAX_RUNS);
    for (let run = 1; run <= runs; run++) {
      floorRates.push(await floorRate(BURST));
      roundTrips.push(await roundTrip());
      bursts.push(await burst(BURST));
      paced.push(await burst(PACED, PACED_GAP_MS));
      const b = bursts.at(-1)!;
      context.log(
        `webhooks run ${run}/${runs}: ${b.rate.toFixed(0)}/s (bare POSTs ${floorRates.at(-1)!.toFixed(0)}/s), p50 ${b.p50.toFixed(0)} ms, p99 ${b.p99.toFixed(0)} ms ` +
          `(bare round trip ${roundTrips.at(-1)!.toFixed(1)} ms); lost ${b.lost}, doubled ${b.doubled}, unverified ${b.unverified}; ` +
          `paced p50 ${paced.at(-1)!.p50.toFixed(0)} ms, p99 ${paced.at(-1)!.p99.toFixed(0)} ms`,
      );
    }

    const all = [...bursts, ...paced];
    const lost = all.reduce((sum, b) => sum + b.lost, 0);
    const doubled = all.reduce((sum, b) => sum + b.doubled, 0);
    const unverified = all.reduce((sum, b) => sum + b.unverified, 0);
    const exact = lost === 0 && doubled === 0 && unverified === 0;
    const checked = exact
      ? `Every run: all ${BURST.toLocaleString('en')} + ${PACED} webhook-ids arrived, 0 lost, 0 doubled, every signature verified (standardwebhooks).`
      : `NOT EXACT over ${bursts.length} runs: ${lost} lost, ${doubled} doubled, ${unverified} unverified or not 200.`;
    const p99s = bursts.map((b) => b.p99);
    const rateFigure: Figure = {
      ...atLeast('webhook deliveries/s, one burst of 1,000 events, one endpoint', 'per s', bursts.map((b) => b.rate), floorRates, 0),
      target: 'reported',
      met: exact,
      note:
        `Ours: from publishing 1,000 access_code.redeemed events onto the local bus in one call to the last one's receipt, through dispatch (a delivery record each), the delivery queue ` +
        `(batch ${WEBHOOK_DELIVERY.batchSize}, concurrency ${WEBHOOK_DELIVERY.maxConcurrency}, as in AWS) and the delivery handler (attempt recorded before and after). ` +
        `Floor: the same number of signed POSTs sent straight to the receiver with fetch, ${CONCURRENCY} at a time. The issue sets no rate target. ${checked}`,
    };
    const p50Figure: Figure = {
      figure: 'webhook publish-to-receipt latency p50 (burst of 1,000)',
      unit: 'ms',
      ours: median(bursts.map((b) => b.p50)),
      floor: median(roundTrips),
      ratio: median(bursts.map((b) => b.p50)) / median(roundTrips),
      target: 'reported',
      met: exact,
      runs: { ours: bursts.map((b) => b.p50), floor: roundTrips },
      note: `Floor: one bare signed POST's round trip to the same receiver (median of ${ROUND_TRIPS}, one at a time). A burst queues: the p50 is mostly waiting behind the burst's other events.`,
    };
    const p99 = median(p99s);
    const p99Figure: Figure = {
      figure: 'webhook publish-to-receipt latency p99 (burst of 1,000)',
      unit: 'ms',
      ours: p99,
      floor: median(roundTrips),
      ratio: p99 / median(roundTrips),
      target: `p99 ≤ ${P99_TARGET_MS / 1000} s`,
      met: exact && p99 <= P99_TARGET_MS,
      runs: { ours: p99s, floor: roundTrips },
      note:
        `The p99 of one burst is close to the time the whole burst takes to drain${p99 > P99_TARGET_MS ? ` — missed by ${(p99 - P99_TARGET_MS).toFixed(0)} ms (${(p99 / P99_TARGET_MS).toFixed(0)}×). Why: every event costs about seven DynamoDB calls ` +
          `(dispatch: the endpoint lookup, the delivery record, its queued mark; delivery: the delivery and endpoint reads, the endpoint's streak, the attempt), ` +
          `so 1,000 events published at once are about 7,000 calls on one DynamoDB Local; the local bus starts all 1,000 dispatches at once, whose calls fill the client's ` +
          `socket pool ahead of the deliveries' own. The burst drains at DynamoDB Local's pace (the rate above); the path's own latency is the paced figure below` : ''}. ${checked}`,
    };
    const pacedP50 = median(paced.map((b) => b.p50));
    const pacedP99 = median(paced.map((b) => b.p99));
    const pacedFigure: Figure = {
      figure: `webhook publish-to-receipt latency p99, ${PACED} events ${PACED_GAP_MS} ms apart (p50 ${pacedP50.toFixed(0)} ms)`,
      unit: 'ms',
      ours: pacedP99,
      floor: median(roundTrips),
      ratio: pacedP99 / median(roundTrips),
      target: `p99 ≤ ${P99_TARGET_MS / 1000} s`,
      met: exact && pacedP99 <= P99_TARGET_MS,
      runs: { ours: paced.map((b) => b.p99), floor: roundTrips },
      note:
        `The latency of the path itself, without a queue in front: ${PACED} events published one at a time, ${PACED_GAP_MS} ms apart, each timed from its own publish to its receipt. ` +
        `Floor: one bare signed POST's round trip. ${checked}`,
    };
    return { figures: [rateFigure, p50Figure, p99Figure, pacedFigure] };
  } finally {
    await receiver.close();
    await stack.stop();
    db.destroy();
  }
};

/** Webhook deliveries per second and publish-to-receipt latency from one burst of 1,000 events. */
export const webhookBench: Bench = {
  name: 'webhooks',
  title: 'Webhook deliveries per second and publish-to-receipt latency (p50, p99) from one burst of 1,000 events',
  run: async (context) => {
    return measure(context);
  },
};
