import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EventEnvelope } from '../../functions/contracts/events';
import { displayCode } from '../../functions/domain/access-codes';
import { LocalBillingQueue, startLocalBilling } from '../../local/billing';
import { localClientConfig } from '../../local/dynamodb-local';
import { dynamoEndpoint } from '../support/dynamodb';
import { StripeMeterBiller } from '../../functions/adapters/stripe/stripe-meter-biller';
import { billingDeps, makeHandler as makeBillingHandler } from '../../functions/handlers/queue/billing';
import { DynamoBillingStore } from '../../functions/adapters/dynamodb/billing-store';
import * as admin from '../../functions/use-cases/admin';
import { startFakeStripe, type FakeStripe } from '../../local/fakes/fake-stripe';
import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';
import { createTeamFixture } from '../support/fixtures';
import { startPipelineHarness, type PipelineHarness } from '../support/pipeline';
import { storedCodes } from '../support/redemption';

/**
 * Redemption and billing through the HTTP API of the local stack: DynamoDB Local, the table's
 * stream read by the billing forwarder, the per-customer billing queue and the billing
 * handler, with the real stripe-node client against a fake Stripe on 127.0.0.1.
 */
const KEY = 'sk_test_memberpass';
/** Headroom for races on a loaded machine; nothing here is timed. */
const TIMEOUT_MS = 240_000;
const TIER = { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' };

let telegram: FakeTelegram;
let stripe: FakeStripe;
let h: PipelineHarness;

beforeAll(async () => {
  telegram = await startFakeTelegram();
  // The fake judges `failFor` windows and timestamps by the harness's clock, which the billing
  // queue's retries move forward (instead of sleeping) so that a 30 s outage passes at once.
  stripe = await startFakeStripe({ apiKey: KEY, now: () => h.clock.now() });
  h = await startPipelineHarness(telegram, {
    awsBehaviour: {},
    stripe: { secretKey: KEY, apiBase: stripe.apiBase },
    billingQueue: {
      retryDelayMs: 1_000,
      sleep: async (ms) => {
        h.clock.advance(ms);
        await new Promise((resolve) => setTimeout(resolve, 2));
      },
    },
  });
}, TIMEOUT_MS);
afterAll(async () => {
  await h?.stop();
  await stripe?.close();
  await telegram?.close();
});

let customers = 0;
/** A team whose project has the 10-free tier, a Stripe customer (unless `null`) and a token with every ability. */
const team = async (customer: string | null = `cus_test${++customers}`) => {
  const fixture = await createTeamFixture(h.table.accounts, { all: ['project-access-code:redeem', 'project-access-code:view-any'] }, TIER);
  if (customer) await admin.setTier({ accounts: h.table.accounts, clock: h.clock }, { projectId: fixture.projectId, tier: TIER, stripeCustomerId: customer });
  return { ...fixture, token: fixture.tokens.all!, customer };
};
type Team = Awaited<ReturnType<typeof team>>;

const redeem = (t: Team, code: string, subscriber: string) =>
  h.call('POST', '/v1/access-codes/redeem', { token: t.token, json: { code, subscriber_id: subscriber } });

/** Waits until the stream, the billing queue and the event bus have handled everything written so far. */
const settle = async () => {
  await h.pipeline.billing.poller.idle();
  await h.pipeline.billing.queue.idle();
  await h.pipeline.poller.idle();
  await h.pipeline.bus.idle();
};

const redeemedEvents = (): EventEnvelope<Record<string, string>>[] => {
  const file = join(h.dataDir, 'events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { detail?: EventEnvelope<Record<string, string>> } & EventEnvelope<Record<string, string>>)
    .map((entry) => entry.detail ?? entry)
    .filter((event) => event.type === 'access_code.redeemed');
};

/** The redemption id behind a subscription. */
const redemptionIdOf = async (subscriptionId: string) => (await h.deps.redemptions.getSubscription(subscriptionId))!.redemptionId;

const billingStore = () => new DynamoBillingStore(h.table.db, h.table.tableName);

/** Units Stripe has for a customer: the sum of its meter events' values (each event a billing window). */
const unitsAt = (customer: string) => stripe.eventsFor(customer).reduce((sum, e) => sum + Number(e.payload.value), 0);

/** The redemptions whose billing record is billed, in a window whose identifier Stripe has exactly once. */
const billedAtStripe = async (customer: string, redemptionIds: readonly string[]) => {
  const identifiers = stripe.eventsFor(customer).map((e) => e.identifier);
  expect(new Set(identifiers).size).toBe(identifiers.length);
  const records = await billingStore().records(redemptionIds);
  return records.filter((r) => r.state === 'billed' && r.windowId && identifiers.includes(r.windowId)).map((r) => r.redemptionId).sort();
};

describe('redeeming over HTTP', () => {
  test('50 subscribers racing for one code: one subscription, 49 CODE_ALREADY_REDEEMED, one masked event', async () => {
    const t = await team();
    const [code] = await storedCodes(h.table, t, { quantity: 1 });
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => redeem(t, displayCode(code!), `usr_${i}`)));

    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    const refused = answers.filter((a) => a.status === 409);
    expect(refused).toHaveLength(49);
    expect(new Set(refused.map((a) => a.body.error.code))).toEqual(new Set(['CODE_ALREADY_REDEEMED']));

    const won = answers.find((a) => a.status === 200)!.body.data;
    await settle();
    const events = redeemedEvents().filter((e) => e.data.subscription_id === won.subscription_id);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toEqual({ subscription_id: won.subscription_id, plan_id: t.planId, subscriber_id: won.subscriber_id, access_code: won.access_code });
    expect(JSON.stringify(events[0])).not.toContain(code!);
    expect(readFileSync(join(h.dataDir, 'events.jsonl'), 'utf8')).not.toContain(code!);
  }, TIMEOUT_MS);

  test('25 codes redeemed at once with 10 free: exactly 15 meter events, one per redemption that answered overage', async () => {
    const t = await team();
    const codes = await storedCodes(h.table, t, { quantity: 25 });
    const answers = await Promise.all(codes.map((code, i) => redeem(t, code, `usr_${i}`)));
    expect(answers.filter((a) => a.status !== 200).map((a) => a.body)).toEqual([]);
    const overage = answers.map((a) => a.body.data).filter((d) => d.billing.overage);
    expect(overage).toHaveLength(15);

    await settle();
    const overageIds = await Promise.all(overage.map((d) => redemptionIdOf(d.subscription_id)));
    expect(unitsAt(t.customer!)).toBe(15);
    expect(await billedAtStripe(t.customer!, overageIds)).toEqual([...overageIds].sort());
    expect(h.pipeline.billing.queue.deadLetters).toHaveLength(0);
  }, TIMEOUT_MS);

  test('with Stripe failing every request for its first 30 s, the same 15 go out eventually and no more', async () => {
    const t = await team();
    const codes = await storedCodes(h.table, t, { quantity: 25 });
    stripe.failFor(30_000, 500);
    const answers = await Promise.all(codes.map((code, i) => redeem(t, code, `usr_${i}`)));
    expect(answers.filter((a) => a.status !== 200).map((a) => a.body)).toEqual([]);
    const overage = answers.map((a) => a.body.data).filter((d) => d.billing.overage);
    expect(overage).toHaveLength(15);

    await settle();
    expect(stripe.answered(500).length).toBeGreaterThan(0);
    const overageIds = await Promise.all(overage.map((d) => redemptionIdOf(d.subscription_id)));
    expect(unitsAt(t.customer!)).toBe(15);
    expect(await billedAtStripe(t.customer!, overageIds)).toEqual([...overageIds].sort());
    expect(h.pipeline.billing.queue.deadLetters).toHaveLength(0);
  }, TIMEOUT_MS);

  test('a retry by the same subscriber gets the same answer, one event and one charge', async () => {
    const t = await team();
    const codes = await storedCodes(h.table, t, { quantity: 11 });
    for (const [i, code] of codes.slice(0, 10).entries()) expect((await redeem(t, code, `usr_${i}`)).status).toBe(200);
    const first = await redeem(t, codes[10]!, 'usr_retry');
    const again = await redeem(t, codes[10]!.toLowerCase(), 'usr_retry');
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.text).toBe(first.text);
    expect(first.body.data.billing.overage).toBe(true);

    await settle();
    const redemptionId = await redemptionIdOf(first.body.data.subscription_id);
    expect(unitsAt(t.customer!)).toBe(1);
    expect(await billedAtStripe(t.customer!, [redemptionId])).toEqual([redemptionId]);
    expect(redeemedEvents().filter((e) => e.data.subscription_id === first.body.data.subscription_id)).toHaveLength(1);
    const shown = await h.call('GET', `/v1/subscriptions/${first.body.data.subscription_id}`, { token: t.token });
    expect(shown.status).toBe(200);
    expect(shown.body.data).toEqual(first.body.data);
  }, TIMEOUT_MS);

  test('a billing record forwarded again after a crash (a fresh queue with no memory) is billed once', async () => {
    const t = await team();
    const codes = await storedCodes(h.table, t, { quantity: 11 });
    for (const [i, code] of codes.entries()) expect((await redeem(t, code, `usr_${i}`)).status).toBe(200);
    await settle();
    expect(unitsAt(t.customer!)).toBe(1);
    const record = (await h.table.scanAll()).find((item) => item.type === 'billing_record' && item.project_id === t.projectId) as Record<string, string>;

    // The forwarder crashed after sending but before its checkpoint: the record comes again,
    // to a queue that has forgotten it (in AWS: after the FIFO queue's five-minute deduplication window).
    const replay = new LocalBillingQueue();
    replay.start(makeBillingHandler(billingDeps({ stores: { billing: billingStore() }, biller: new StripeMeterBiller(KEY, { apiBase: stripe.apiBase }), clock: h.clock, redelivery: replay })));
    await replay.send([{ kind: 'records', stripe_customer_id: t.customer!, period: record.period!, redemption_ids: [record.redemption_id!] }]);
    await replay.idle();
    expect(unitsAt(t.customer!)).toBe(1);
    expect(replay.deadLetters).toHaveLength(0);
  }, TIMEOUT_MS);

  test('usage of a project without a Stripe customer is kept pending and goes out once set-tier gives it one', async () => {
    const t = await team(null);
    const codes = await storedCodes(h.table, t, { quantity: 12 });
    for (const [i, code] of codes.entries()) expect((await redeem(t, code, `usr_${i}`)).status).toBe(200);
    await settle();
    const pending = await billingStore().pendingForProject(t.projectId);
    expect(pending.map((r) => r.state)).toEqual(['pending', 'pending']);

    const customer = 'cus_late';
    const set = await admin.setTier({ accounts: h.table.accounts, billing: billingStore(), clock: h.clock }, { projectId: t.projectId, tier: TIER, stripeCustomerId: customer });
    expect(set).toMatchObject({ pending_usage_queued: 2 });
    await settle();
    expect(unitsAt(customer)).toBe(2);
    expect(await billedAtStripe(customer, pending.map((r) => r.redemptionId))).toEqual(pending.map((r) => r.redemptionId).sort());
  }, TIMEOUT_MS);

  // Last: it stops the harness's billing path, as a crash would.
  test('a crash between the commit and the forwarding: after a restart the redemption is billed once', async () => {
    const t = await team();
    const codes = await storedCodes(h.table, t, { quantity: 11 });
    for (const [i, code] of codes.slice(0, 10).entries()) expect((await redeem(t, code, `usr_${i}`)).status).toBe(200);
    await settle();
    await h.pipeline.billing.stop();
    const committed = await redeem(t, codes[10]!, 'usr_crash');
    expect(committed.body.data.billing.overage).toBe(true);
    expect(unitsAt(t.customer!)).toBe(0);

    const restart = () =>
      startLocalBilling({
        clientConfig: localClientConfig(dynamoEndpoint()),
        tableName: h.table.tableName,
        dataDir: h.dataDir,
        stores: { billing: billingStore(), accounts: h.table.accounts },
        clock: h.clock,
        stripe: { secretKey: KEY, apiBase: stripe.apiBase },
        sweepIntervalMs: 0,
      });
    for (let run = 0; run < 2; run++) {
      const billing = await restart();
      await billing.poller.idle();
      await billing.queue.idle();
      await billing.stop();
    }
    const redemptionId = await redemptionIdOf(committed.body.data.subscription_id);
    expect(unitsAt(t.customer!)).toBe(1);
    expect(await billedAtStripe(t.customer!, [redemptionId])).toEqual([redemptionId]);
  }, TIMEOUT_MS);
});
