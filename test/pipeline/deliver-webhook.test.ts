import { HttpWebhookSender } from '../../functions/adapters/webhooks/http-webhook-sender';
import { DnsWebhookUrlGuard } from '../../functions/adapters/webhooks/url-guard';
import { CLAIM_LEASE_SECONDS, ENDPOINT_FAILURE_WINDOW_MS, generateWebhookSecret, initialSecrets, rotateSecrets, type WebhookEndpoint } from '../../functions/domain/webhooks';
import { EndpointGate, deliverWebhook, sweepWebhookDeliveries, type DeliverWebhookDeps, type DeliveryTarget } from '../../functions/use-cases/deliver-webhook';
import { FakeClock } from '../support/clock';
import { RecordingScheduler, aDelivery, anEndpoint } from '../support/webhook-doubles';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/fakes/webhook-receiver';
import { dynamoHarness, inMemoryHarness, type WebhookStoreHarness } from '../support/webhook-store-harness';
import { createTestTable, type TestTable } from '../support/dynamodb';
import type { WebhookDelivery } from '../../functions/domain/webhooks';

// The use case over the real guard (local mode), the real sender and a real receiver on
// 127.0.0.1; the queue is a recording double and the clock is fake. Every case runs over the
// in-memory store double and over the DynamoDB store on DynamoDB Local, so both keep the port's
// promises alike. The sender signs with the wall clock, as receivers judge timestamps by theirs.

// One DynamoDB Local table for the file: every test makes its own ids.
let table: TestTable | undefined;
afterAll(async () => table?.drop());

describe.each([
  ['in memory', inMemoryHarness],
  ['DynamoDB', async () => dynamoHarness((table ??= await createTestTable()))],
])('over the %s store', (_name, makeHarness: () => Promise<WebhookStoreHarness>) => {
const secret = generateWebhookSecret();
let receiver: WebhookReceiver;
let store: WebhookStoreHarness;
let scheduler: RecordingScheduler;
let clock: FakeClock;
let deps: DeliverWebhookDeps;

beforeEach(async () => {
  receiver = await startWebhookReceiver({ secrets: [secret] });
  store = await makeHarness();
  scheduler = new RecordingScheduler();
  clock = new FakeClock(new Date('2026-06-01T09:00:00Z'));
  deps = {
    store: store.store,
    scheduler,
    clock,
    guard: new DnsWebhookUrlGuard({ allowPrivate: true }),
    sender: new HttpWebhookSender({ timeoutMs: 2_000 }),
    random: () => 0.5,
    gate: new EndpointGate(),
  };
});
afterEach(async () => {
  await receiver.close();
  await store.close();
});

const setUp = async (endpointOverrides: Partial<WebhookEndpoint> = {}, deliveryOverrides: Partial<WebhookDelivery> = {}) => {
  const endpoint = anEndpoint(receiver.url(), secret, clock.now(), endpointOverrides);
  const delivery = { ...aDelivery(endpoint, clock.now()), ...deliveryOverrides };
  await store.addEndpoint(endpoint);
  await store.addDelivery(delivery);
  return { endpoint, delivery };
};

/** The sweep, as its schedule runs it. */
const sweep = () => sweepWebhookDeliveries({ store: store.store, scheduler, clock });

/**
 * Plays the queue and the sweep: runs the delivery, then each retry once its delay has passed —
 * from the queue when it was scheduled there, else from the sweep at its due time.
 */
const runUntilSettled = async (deliveryId: string, maxRuns = 20) => {
  const delays: number[] = [];
  let target: DeliveryTarget = {};
  for (let run = 0; run < maxRuns; run++) {
    const before = scheduler.scheduled.length;
    await deliverWebhook(deps, deliveryId, target);
    let next = scheduler.scheduled[before];
    if (next === undefined) {
      const pending = await store.delivery(deliveryId);
      if (pending?.status !== 'pending' || pending.nextAttemptAt === null) return delays;
      const wait = (Date.parse(pending.nextAttemptAt) - clock.now().getTime()) / 1000;
      clock.advance(wait * 1000);
      await sweep();
      next = scheduler.scheduled[before];
      if (next === undefined) throw new Error('the sweep queued nothing at the due time');
      delays.push(wait);
    } else {
      delays.push(next.delaySeconds);
      clock.advance(next.delaySeconds * 1000);
    }
    target = { ...(next.attempt === undefined ? {} : { attempt: next.attempt }), ...(next.endpointId === undefined ? {} : { endpointId: next.endpointId }) };
  }
  throw new Error('did not settle');
};

describe('delivering a webhook', () => {
  it('delivers to a receiver that fails twice: the same webhook-id three times, after growing delays, three attempts recorded', async () => {
    const { endpoint, delivery } = await setUp();
    receiver.failNext(2, 500);

    const delays = await runUntilSettled(delivery.id);

    expect(receiver.received.map((r) => [r.id, r.status, r.verified])).toEqual([
      [delivery.eventId, 500, true],
      [delivery.eventId, 500, true],
      [delivery.eventId, 200, true],
    ]);
    expect(delays).toEqual([5, 300]);
    const attempts = (await store.attempts(delivery.id));
    expect(attempts.map((a) => [a.attempt, a.status, a.outcome, a.at])).toEqual([
      [1, 500, 'failed', '2026-06-01T09:00:00.000Z'],
      [2, 500, 'failed', '2026-06-01T09:00:05.000Z'],
      [3, 200, 'succeeded', '2026-06-01T09:05:05.000Z'],
    ]);
    expect(attempts[0]!.responseSnippet).toBe('failure 500');
    expect((await store.delivery(delivery.id))).toMatchObject({ status: 'succeeded', attemptCount: 3, nextAttemptAt: null });
    expect((await store.endpoint(endpoint.id))).toMatchObject({ lastSuccessAt: '2026-06-01T09:05:05.000Z', failingSince: null, enabled: true });
  });

  it('fails the delivery once the schedule is exhausted, after twelve attempts over about three days', async () => {
    const { endpoint, delivery } = await setUp();
    receiver.failNext(100, 503);

    const delays = await runUntilSettled(delivery.id);

    expect(receiver.received).toHaveLength(12);
    expect(new Set(receiver.received.map((r) => r.id))).toEqual(new Set([delivery.eventId]));
    expect(delays.reduce((a, b) => a + b, 0) / 86_400).toBeCloseTo(2.82, 2);
    expect((await store.delivery(delivery.id))).toMatchObject({ status: 'failed', failureReason: 'All 12 attempts failed.', nextAttemptAt: null });
    expect((await store.attempts(delivery.id))).toHaveLength(12);
    // 2.8 days is short of the 5-day rule: the endpoint stays enabled, marked failing.
    expect((await store.endpoint(endpoint.id))).toMatchObject({ enabled: true, failingSince: '2026-06-01T09:00:00.000Z' });
  });

  it('puts nothing back for a message far ahead of its due time (past the queue\'s cap): the sweep queues the attempt a minute after its due time, not before', async () => {
    const { endpoint, delivery } = await setUp({}, { nextAttemptAt: '2026-06-01T11:00:00.000Z' }); // a 2 h retry
    clock.advance(15 * 60_000);

    const early = await deliverWebhook(deps, delivery.id);
    clock.set(new Date('2026-06-01T11:00:59.000Z'));
    const beforeDue = await sweep();
    clock.set(new Date('2026-06-01T11:01:00.000Z'));
    const atDue = await sweep();

    expect(early).toEqual({ outcome: 'not-due', delaySeconds: 6_300 });
    expect(beforeDue.queued).toBe(0);
    expect(atDue.queued).toBe(1);
    expect(scheduler.scheduled).toEqual([{ deliveryId: delivery.id, delaySeconds: 0, attempt: 1, endpointId: endpoint.id }]);
    expect(receiver.received).toHaveLength(0);
  });

  it('puts back a message that comes a little early with the rest of its delay', async () => {
    const { delivery } = await setUp({}, { nextAttemptAt: '2026-06-01T09:10:00.000Z' });

    const result = await deliverWebhook(deps, delivery.id, { attempt: 1 });

    expect(result).toEqual({ outcome: 'not-due', delaySeconds: 600 });
    expect(scheduler.scheduled).toEqual([{ deliveryId: delivery.id, delaySeconds: 600, attempt: 1 }]);
  });

  it('makes again, once, an attempt whose claimant died: the sweep finds it when the lease lapses', async () => {
    const { endpoint, delivery } = await setUp();
    const dead = await store.store.claimAttempt(delivery.id, clock.now(), 1); // claimed, then the process died

    clock.advance((CLAIM_LEASE_SECONDS - 1) * 1000);
    const whileLeased = await sweep();
    const duplicate = await deliverWebhook(deps, delivery.id, { attempt: 1, endpointId: endpoint.id });
    clock.advance(2_000);
    await sweep();
    await sweep(); // a second sweep before the queue ran: two messages for one attempt
    const runs = await Promise.all(scheduler.scheduled.map((m) => deliverWebhook(deps, m.deliveryId, { attempt: m.attempt!, endpointId: m.endpointId! })));

    expect(dead.claimed).toBe(true);
    expect(whileLeased.queued).toBe(0);
    expect(duplicate).toEqual({ outcome: 'finished' });
    expect(runs.map((r) => r.outcome).sort()).toEqual(['attempted', 'finished']);
    expect(receiver.received).toHaveLength(1);
    expect(await store.delivery(delivery.id)).toMatchObject({ status: 'succeeded', attemptCount: 1 });
    expect((await sweep()).queued).toBe(0);
  });

  it('drops a message for an attempt already made, sending nothing', async () => {
    const { endpoint, delivery } = await setUp();
    receiver.failNext(1, 500);
    await deliverWebhook(deps, delivery.id, { attempt: 1, endpointId: endpoint.id });
    clock.advance(10_000); // attempt 2 is due

    const late = await deliverWebhook(deps, delivery.id, { attempt: 1, endpointId: endpoint.id });

    expect(late).toEqual({ outcome: 'finished' });
    expect(receiver.received).toHaveLength(1);
  });

  it('writes the endpoint only when its health changes: the first success, the first failure of a streak, the first success after it', async () => {
    const { endpoint } = await setUp();
    const writes: string[] = [];
    for (const method of ['recordEndpointSuccess', 'recordEndpointFailure'] as const) {
      const original = store.store[method].bind(store.store) as (id: string, at: Date) => Promise<unknown>;
      (store.store as unknown as Record<string, unknown>)[method] = async (id: string, at: Date) => {
        writes.push(method);
        return original(id, at);
      };
    }
    const outcomes = [200, 200, 500, 500, 200, 200];
    for (const status of outcomes) {
      const delivery = aDelivery(endpoint, clock.now());
      await store.addDelivery(delivery);
      if (status !== 200) receiver.failNext(1, status);
      await deliverWebhook(deps, delivery.id, { attempt: 1, endpointId: endpoint.id });
      clock.advance(1_000);
    }

    expect(receiver.received.map((r) => r.status)).toEqual(outcomes);
    expect(writes).toEqual(['recordEndpointSuccess', 'recordEndpointFailure', 'recordEndpointSuccess']);
  });

  it('defers, without a read or a write, a delivery whose new endpoint has its cap of sends in flight here', async () => {
    const { endpoint, delivery } = await setUp();
    const gate = new EndpointGate(1);
    const held = gate.tryAcquire(endpoint.id);

    const deferred = await deliverWebhook({ ...deps, gate }, delivery.id, { attempt: 1, endpointId: endpoint.id });
    if ('release' in held) held.release();
    const made = await deliverWebhook({ ...deps, gate }, delivery.id, { attempt: 1, endpointId: endpoint.id });

    expect(deferred).toEqual({ outcome: 'deferred' });
    // A new endpoint: looked at again in a second, when its first sends have told how fast it is.
    expect(scheduler.scheduled[0]).toMatchObject({ deliveryId: delivery.id, delaySeconds: 1, attempt: 1, endpointId: endpoint.id });
    expect(made.outcome).toBe('attempted');
    expect(receiver.received).toHaveLength(1);
    expect(gate.sending(endpoint.id)).toBe(0);
  });

  it('disables the endpoint on 410 Gone and fails the delivery without retrying', async () => {
    const { endpoint, delivery } = await setUp();
    receiver.failNext(1, 410);

    const next = aDelivery(endpoint, clock.now());
    await store.addDelivery(next);

    const result = await deliverWebhook(deps, delivery.id, { endpointId: endpoint.id });
    // The next delivery of the endpoint, right after the 410 was recorded: not sent.
    const after = await deliverWebhook(deps, next.id, { endpointId: endpoint.id });

    expect(after).toEqual({ outcome: 'endpoint-disabled' });
    expect(receiver.received).toHaveLength(1);
    expect(result).toMatchObject({ outcome: 'attempted', endpointDisabled: { reason: 'gone' } });
    expect((await store.endpoint(endpoint.id))).toMatchObject({ enabled: false, disabledReason: 'gone', disabledAt: '2026-06-01T09:00:00.000Z' });
    expect((await store.delivery(delivery.id))).toMatchObject({
      status: 'failed',
      failureReason: 'Disabled at 2026-06-01T09:00:00.000Z: the endpoint answered 410 Gone.',
    });
    expect(scheduler.scheduled).toEqual([]);
  });

  it('disables an endpoint that has failed for 5 days with no success, saying so with the time', async () => {
    const failingSince = new Date(clock.now().getTime() - ENDPOINT_FAILURE_WINDOW_MS).toISOString();
    const { endpoint, delivery } = await setUp({ failingSince });
    receiver.failNext(1, 500);

    const result = await deliverWebhook(deps, delivery.id);

    expect(result).toMatchObject({
      outcome: 'attempted',
      endpointDisabled: { reason: 'failing', message: 'Disabled at 2026-06-01T09:00:00.000Z: every delivery failed for 5 days with no success.' },
    });
    expect((await store.endpoint(endpoint.id))).toMatchObject({ enabled: false, disabledReason: 'failing', disabledAt: '2026-06-01T09:00:00.000Z' });
    expect(scheduler.scheduled).toEqual([]);
  });

  it('keeps an endpoint failing for just under 5 days, and a success ends its failing streak', async () => {
    const failingSince = new Date(clock.now().getTime() - ENDPOINT_FAILURE_WINDOW_MS + 60_000).toISOString();
    const { endpoint, delivery } = await setUp({ failingSince });
    receiver.failNext(1, 500);

    const failed = await deliverWebhook(deps, delivery.id);

    expect(failed).toMatchObject({ outcome: 'attempted', retryInSeconds: 5 });
    expect((await store.endpoint(endpoint.id))).toMatchObject({ enabled: true, failingSince });

    clock.advance(5_000);
    await deliverWebhook(deps, delivery.id);

    expect((await store.endpoint(endpoint.id))).toMatchObject({ enabled: true, failingSince: null, lastSuccessAt: clock.now().toISOString() });
  });

  it('fails a delivery whose endpoint is disabled, without calling it', async () => {
    const { delivery } = await setUp({ enabled: false, disabledReason: 'manual', disabledAt: '2026-05-31T00:00:00.000Z' });

    const result = await deliverWebhook(deps, delivery.id);

    expect(result).toEqual({ outcome: 'endpoint-disabled' });
    expect((await store.delivery(delivery.id))).toMatchObject({ status: 'failed', failureReason: 'The endpoint is disabled.' });
    expect(receiver.received).toHaveLength(0);
  });

  it('checks the URL again at delivery: a private address outside the local stack is a failed attempt, nothing is sent', async () => {
    const { delivery } = await setUp();
    deps.guard = new DnsWebhookUrlGuard({ allowPrivate: false });

    const result = await deliverWebhook(deps, delivery.id);

    expect(result).toMatchObject({ outcome: 'attempted', retryInSeconds: 5, attempt: { status: null, outcome: 'failed', error: 'URL refused: The URL must use https.' } });
    expect(receiver.received).toHaveLength(0);
  });

  it('signs with the old and the new secret during a rotation overlap, so a receiver still on the old one verifies', async () => {
    const newSecret = generateWebhookSecret();
    const rotatedAt = new Date(clock.now().getTime() - 3_600_000);
    const { delivery } = await setUp({ secrets: rotateSecrets(initialSecrets(secret, rotatedAt), newSecret, rotatedAt) });
    receiver.setSecrets([secret, newSecret]);

    await deliverWebhook(deps, delivery.id);

    expect(receiver.received[0]!.verifiedWith).toEqual([0, 1]);
  });

  it('does nothing for a delivery that already finished (a late duplicate message)', async () => {
    const { delivery } = await setUp();
    await deliverWebhook(deps, delivery.id);

    const again = await deliverWebhook(deps, delivery.id);

    expect(again).toEqual({ outcome: 'finished' });
    expect(receiver.received).toHaveLength(1);
  });

  it('never forks the retry chain when the same message runs twice at once', async () => {
    const { delivery } = await setUp();
    receiver.failNext(2, 500);

    const results = await Promise.all([deliverWebhook(deps, delivery.id, { attempt: 1 }), deliverWebhook(deps, delivery.id, { attempt: 1 })]);

    expect(results.map((r) => r.outcome).sort()).toEqual(['attempted', 'finished']);
    expect((await store.attempts(delivery.id))).toHaveLength(1);
    expect(scheduler.scheduled).toHaveLength(1);
  });

  it('recovers from a crash before the retry was queued: the message comes back and is put back with the remaining delay', async () => {
    const { delivery } = await setUp();
    receiver.failNext(1, 500);
    scheduler.failNext = new Error('crash: SQS unreachable');

    await expect(deliverWebhook(deps, delivery.id)).rejects.toThrow('crash');
    clock.advance(2_000); // the queue redelivers the message
    const again = await deliverWebhook(deps, delivery.id);

    expect(again).toEqual({ outcome: 'not-due', delaySeconds: 3 });
    expect(receiver.received).toHaveLength(1);
    expect((await store.attempts(delivery.id))).toHaveLength(1);
  });

  it('does nothing for a delivery that no longer exists', async () => {
    await expect(deliverWebhook(deps, 'whd_gone')).resolves.toEqual({ outcome: 'not-found' });
  });
});
});
