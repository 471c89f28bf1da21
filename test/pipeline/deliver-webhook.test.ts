import { HttpWebhookSender } from '../../functions/adapters/webhooks/http-webhook-sender';
import { DnsWebhookUrlGuard } from '../../functions/adapters/webhooks/url-guard';
import { ENDPOINT_FAILURE_WINDOW_MS, generateWebhookSecret, initialSecrets, rotateSecrets, type WebhookEndpoint } from '../../functions/domain/webhooks';
import { deliverWebhook, type DeliverWebhookDeps } from '../../functions/use-cases/deliver-webhook';
import { FakeClock } from '../support/clock';
import { RecordingScheduler, aDelivery, anEndpoint } from '../support/webhook-doubles';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
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

/** Plays the queue: runs the delivery, then each scheduled retry once its delay has passed. */
const runUntilSettled = async (deliveryId: string, maxRuns = 20) => {
  const delays: number[] = [];
  for (let run = 0; run < maxRuns; run++) {
    const before = scheduler.scheduled.length;
    await deliverWebhook(deps, deliveryId);
    const next = scheduler.scheduled[before];
    if (next === undefined) return delays;
    delays.push(next.delaySeconds);
    clock.advance(next.delaySeconds * 1000);
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

  it('puts back a message that arrives before its attempt is due with the remaining delay, sending nothing', async () => {
    const { delivery } = await setUp({}, { nextAttemptAt: '2026-06-01T11:00:00.000Z' }); // a 2 h retry
    clock.advance(15 * 60_000); // the queue's 15-minute cap

    const result = await deliverWebhook(deps, delivery.id);

    expect(result).toEqual({ outcome: 'not-due', delaySeconds: 6_300 });
    expect(scheduler.scheduled).toEqual([{ deliveryId: delivery.id, delaySeconds: 6_300 }]);
    expect(receiver.received).toHaveLength(0);
  });

  it('disables the endpoint on 410 Gone and fails the delivery without retrying', async () => {
    const { endpoint, delivery } = await setUp();
    receiver.failNext(1, 410);

    const result = await deliverWebhook(deps, delivery.id);

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

    const results = await Promise.all([deliverWebhook(deps, delivery.id), deliverWebhook(deps, delivery.id)]);

    expect(results.map((r) => r.outcome).sort()).toEqual(['attempted', 'duplicate']);
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
