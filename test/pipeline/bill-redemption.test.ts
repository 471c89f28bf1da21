import { BillingUnavailableError, type BillingMessage } from '../../functions/domain/billing';
import { StripeMeterBiller } from '../../functions/adapters/stripe/stripe-meter-biller';
import { billRedemption, type BillRedemptionDeps, type BillingOutcome } from '../../functions/use-cases/bill-redemption';
import { InMemoryBillingLedger } from '../support/billing-ledger';
import { FakeClock } from '../support/clock';
import { startFakeStripe, type FakeStripe } from '../support/fake-stripe';

// The billing consumer's use case over the real stripe-node biller and the fake Stripe; the
// ledger is an in-memory double until the code store implements the port.

const KEY = 'sk_test_fake_key_1234';
const NOW = new Date('2026-05-01T12:00:00.000Z');

const message = (redemptionId: string, customer: string | null = 'cus_A'): BillingMessage => ({
  redemption_id: redemptionId,
  project_id: 'prj_1',
  period: '2026-05',
  stripe_customer_id: customer,
  redeemed_at: '2026-05-01T11:59:00.000Z',
});

describe('bill a redemption', () => {
  let clock: FakeClock;
  let fake: FakeStripe;
  let ledger: InMemoryBillingLedger;
  let deps: BillRedemptionDeps;

  beforeEach(async () => {
    clock = new FakeClock(NOW);
    fake = await startFakeStripe({ apiKey: KEY, now: () => clock.now() });
    ledger = new InMemoryBillingLedger();
    deps = { biller: new StripeMeterBiller(KEY, { apiBase: fake.apiBase }), ledger, clock };
  });
  afterEach(() => fake.close());

  it('sends one meter event for the redemption and marks it billed', async () => {
    expect(await billRedemption(deps, message('rdm_1'))).toBe('billed');

    expect(fake.meterEvents).toMatchObject([{ identifier: 'rdm_1', payload: { stripe_customer_id: 'cus_A', value: '1' }, timestamp: NOW.getTime() / 1000 - 60 }]);
    expect(ledger.records.get('rdm_1')).toEqual({ ref: { redemptionId: 'rdm_1', projectId: 'prj_1', period: '2026-05' }, state: 'billed', at: NOW });
  });

  it('keeps the usage pending, without calling Stripe, when the project has no Stripe customer', async () => {
    expect(await billRedemption(deps, message('rdm_2', null))).toBe('pending');

    expect(fake.calls).toEqual([]);
    expect(ledger.stateOf('rdm_2')).toBe('pending');
  });

  it('sends pending usage once the customer is set, and marks it billed', async () => {
    await billRedemption(deps, message('rdm_3', null));

    expect(await billRedemption(deps, message('rdm_3', 'cus_A'))).toBe('billed');

    expect(fake.meterEvents.map((event) => event.identifier)).toEqual(['rdm_3']);
    expect(ledger.stateOf('rdm_3')).toBe('billed');
  });

  it('lets a retryable failure through to the queue with nothing marked, and bills once on redelivery', async () => {
    fake.failNext(1, 503);

    await expect(billRedemption(deps, message('rdm_4'))).rejects.toBeInstanceOf(BillingUnavailableError);
    expect(ledger.stateOf('rdm_4')).toBeUndefined();

    expect(await billRedemption(deps, message('rdm_4'))).toBe('billed');
    expect(fake.meterEvents).toHaveLength(1);
  });

  it('marks a refusal for good failed, with Stripe\'s reason, and does not ask the queue to retry', async () => {
    const stale = { ...message('rdm_5'), redeemed_at: '2026-03-01T00:00:00.000Z' };

    expect(await billRedemption(deps, stale)).toBe('failed');

    expect(ledger.records.get('rdm_5')).toMatchObject({ state: 'failed', reason: expect.stringMatching(/within the past 35 calendar days/) });
    expect(fake.meterEvents).toEqual([]);
  });

  it('does not ask Stripe again for a redemption already marked billed, even after Stripe forgot the identifier', async () => {
    await billRedemption(deps, message('rdm_6'));
    fake.reset(); // Stripe keeps identifiers for at least 24 hours, not forever

    expect(await billRedemption(deps, message('rdm_6'))).toBe('already-billed');

    expect(fake.calls).toEqual([]);
  });

  it('bills once when it crashed after Stripe took the event and before marking it: the redelivery is a duplicate', async () => {
    ledger.crashOnNextMarkBilled();

    await expect(billRedemption(deps, message('rdm_7'))).rejects.toThrow('crashed before marking billed');
    expect(ledger.stateOf('rdm_7')).toBeUndefined();

    expect(await billRedemption(deps, message('rdm_7'))).toBe('billed');
    expect(fake.meterEvents).toHaveLength(1);
    expect(fake.answered(400).map((call) => call.errorCode)).toEqual(['duplicate_meter_event']);
  });

  it('bills every redemption exactly once through an hour-long Stripe outage, redelivered with backoff', async () => {
    fake.failFor(60 * 60_000, 500);
    const pending = Array.from({ length: 5 }, (_, i) => message(`rdm_8_${i}`, `cus_${i % 2}`));
    const outcomes = new Map<string, BillingOutcome>();

    // The queue: each message redelivered after an exponential backoff (capped at 5 minutes)
    // until it is handled; customers' messages one at a time, as a FIFO group would.
    for (let attempt = 0; pending.length > 0; attempt++) {
      for (const next of [...pending]) {
        try {
          outcomes.set(next.redemption_id, await billRedemption(deps, next));
          pending.splice(pending.indexOf(next), 1);
        } catch (error) {
          if (!(error instanceof BillingUnavailableError)) throw error;
        }
      }
      clock.advance(Math.min(2 ** attempt, 300) * 1000);
    }

    expect([...outcomes.values()]).toEqual(['billed', 'billed', 'billed', 'billed', 'billed']);
    expect(fake.meterEvents.map((event) => event.identifier).sort()).toEqual(['rdm_8_0', 'rdm_8_1', 'rdm_8_2', 'rdm_8_3', 'rdm_8_4']);
    expect(fake.answered(500).length).toBeGreaterThan(0);
    expect(fake.answered(429)).toEqual([]);
  });
});
