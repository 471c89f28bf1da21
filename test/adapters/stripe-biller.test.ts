import { ConfigurationError } from '../../functions/contracts/env';
import { BillingRejectedError, BillingUnavailableError, type MeteredUsage } from '../../functions/domain/billing';
import { makeUsageBiller } from '../../functions/adapters/stripe/factory';
import { LedgerUsageBiller } from '../../functions/adapters/stripe/ledger-biller';
import { earlyKeyReader } from '../../functions/adapters/stripe/early-key-reader';
import { RotatingKeyStripeBiller } from '../../functions/adapters/stripe/rotating-key-biller';
import { StripeMeterBiller, apiBaseOptions } from '../../functions/adapters/stripe/stripe-meter-biller';
import { startFakeStripe, type FakeStripe } from '../../local/fakes/fake-stripe';

// The real stripe-node client against a Stripe stand-in on 127.0.0.1.

const KEY = 'sk_test_fake_key_1234';
const NOW = new Date('2026-05-01T12:00:00.000Z');

const usage = (identifier: string, stripeCustomerId = 'cus_A', timestamp = new Date('2026-05-01T11:59:30.250Z')): MeteredUsage => ({
  identifier,
  stripeCustomerId,
  timestamp,
  value: 1,
});

/** What a call rejected with, or 'resolved'. */
const outcome = (call: Promise<void>): Promise<unknown> => call.then(() => 'resolved', (error: unknown) => error);

describe('Stripe meter biller (stripe-node against the fake Stripe)', () => {
  let fake: FakeStripe;
  let biller: StripeMeterBiller;

  beforeEach(async () => {
    fake = await startFakeStripe({ apiKey: KEY, now: () => NOW });
    biller = new StripeMeterBiller(KEY, { apiBase: fake.apiBase });
  });
  afterEach(() => fake.close());

  it('sends one meter event: the event name, the customer, value "1", the redemption id as identifier, the time in Unix seconds', async () => {
    await biller.reportUsage(usage('rdm_01'));

    expect(fake.meterEvents).toEqual([
      {
        event_name: 'access_code_redemption',
        identifier: 'rdm_01',
        payload: { stripe_customer_id: 'cus_A', value: '1' },
        timestamp: Math.floor(Date.parse('2026-05-01T11:59:30.250Z') / 1000),
        created: NOW.getTime() / 1000,
      },
    ]);
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({ method: 'POST', path: '/v1/billing/meter_events', apiKey: KEY, status: 200 });
  });

  it('uses the configured event name', async () => {
    const named = new StripeMeterBiller(KEY, { apiBase: fake.apiBase, eventName: 'memberpass_overage' });

    await named.reportUsage(usage('rdm_02'));

    expect(fake.meterEvents.map((event) => event.event_name)).toEqual(['memberpass_overage']);
  });

  it('counts a duplicate identifier as success, and Stripe keeps the event once', async () => {
    await biller.reportUsage(usage('rdm_03'));

    await expect(biller.reportUsage(usage('rdm_03'))).resolves.toBeUndefined();

    expect(fake.meterEvents.map((event) => event.identifier)).toEqual(['rdm_03']);
    expect(fake.answered(400).map((call) => call.errorCode)).toEqual(['duplicate_meter_event']);
  });

  it('counts the duplicate answer without a code (older API versions) as success too', async () => {
    const old = await startFakeStripe({ apiKey: KEY, now: () => NOW, duplicateCode: false });
    try {
      const oldBiller = new StripeMeterBiller(KEY, { apiBase: old.apiBase });
      await oldBiller.reportUsage(usage('rdm_04'));

      await expect(oldBiller.reportUsage(usage('rdm_04'))).resolves.toBeUndefined();

      expect(old.meterEvents).toHaveLength(1);
      expect(old.answered(400)).toHaveLength(1);
      expect(old.answered(400)[0]?.errorCode).toBeUndefined();
    } finally {
      await old.close();
    }
  });

  it.each([500, 502, 503, 429, 409, 401, 403])('surfaces a %i as retryable, records nothing, and the next try goes through', async (status) => {
    fake.failNext(1, status);

    const first = await outcome(biller.reportUsage(usage('rdm_05')));

    expect(first).toBeInstanceOf(BillingUnavailableError);
    expect((first as BillingUnavailableError).status).toBe(status);
    expect(fake.meterEvents).toEqual([]);
    // maxNetworkRetries 0: one request per attempt, the queue does the retrying.
    expect(fake.calls).toHaveLength(1);
    await biller.reportUsage(usage('rdm_05'));
    expect(fake.meterEvents.map((event) => event.identifier)).toEqual(['rdm_05']);
  });

  it('surfaces an unreachable Stripe as retryable', async () => {
    const gone = await startFakeStripe();
    const base = gone.apiBase;
    await gone.close();

    const error = await outcome(new StripeMeterBiller(KEY, { apiBase: base }).reportUsage(usage('rdm_06')));

    expect(error).toBeInstanceOf(BillingUnavailableError);
    expect((error as BillingUnavailableError).status).toBeUndefined();
  });

  it('surfaces another 400 (a timestamp older than 35 days) as permanent, with Stripe\'s message, and records nothing', async () => {
    const error = await outcome(biller.reportUsage(usage('rdm_07', 'cus_A', new Date('2026-03-01T00:00:00Z'))));

    expect(error).toBeInstanceOf(BillingRejectedError);
    expect(error).toMatchObject({ status: 400, message: expect.stringMatching(/within the past 35 calendar days/) });
    expect(fake.meterEvents).toEqual([]);
  });

  it.each([400, 402, 404])('surfaces a %i as permanent (the payload itself is refused)', async (status) => {
    fake.failNext(1, status);

    const error = await outcome(biller.reportUsage(usage('rdm_08')));

    expect(error).toBeInstanceOf(BillingRejectedError);
    expect((error as BillingRejectedError).status).toBe(status);
  });

  it('surfaces a wrong key as retryable (an operator fixes the key) without repeating the key in the error', async () => {
    const wrongKey = 'sk_test_wrong_secret_9876';
    const error = await outcome(new StripeMeterBiller(wrongKey, { apiBase: fake.apiBase }).reportUsage(usage('rdm_09')));

    expect(error).toBeInstanceOf(BillingUnavailableError);
    expect((error as BillingUnavailableError).status).toBe(401);
    expect((error as Error).message).not.toContain(wrongKey);
    expect(fake.meterEvents).toEqual([]);
  });

  it('ends with one event when Stripe took it but the answer was lost: the retry is a duplicate', async () => {
    fake.dropNextAnswers(1);

    const first = await outcome(biller.reportUsage(usage('rdm_10')));
    // stripe-node itself retries a reset connection once, so the first try may already succeed.
    expect(first === 'resolved' || first instanceof BillingUnavailableError).toBe(true);
    await biller.reportUsage(usage('rdm_10'));

    expect(fake.meterEvents.map((event) => event.identifier)).toEqual(['rdm_10']);
    expect(fake.calls.length).toBeGreaterThanOrEqual(2);
  });

  it('gets a 429 for a second concurrent call for the same customer (Stripe\'s rule), while another customer goes through', async () => {
    fake.pause();
    const first = biller.reportUsage(usage('rdm_11', 'cus_A'));
    await fake.whenHeld(1);

    const second = await outcome(biller.reportUsage(usage('rdm_12', 'cus_A')));
    const other = biller.reportUsage(usage('rdm_13', 'cus_B'));
    await fake.whenHeld(2);
    fake.resume();
    await Promise.all([first, other]);

    expect(second).toBeInstanceOf(BillingUnavailableError);
    expect((second as BillingUnavailableError).status).toBe(429);
    expect(fake.answered(429).map((call) => call.errorCode)).toEqual(['rate_limit']);
    expect(fake.meterEvents.map((event) => event.identifier)).toEqual(['rdm_11', 'rdm_13']);
  });

  it('takes calls for one customer one after another without a 429', async () => {
    for (const id of ['rdm_14', 'rdm_15', 'rdm_16']) await biller.reportUsage(usage(id, 'cus_A'));

    expect(fake.answered(429)).toEqual([]);
    expect(fake.eventsFor('cus_A')).toHaveLength(3);
  });
});

describe('Stripe biller configuration', () => {
  it('turns an API base into the client\'s host, port and protocol', () => {
    expect(apiBaseOptions('http://127.0.0.1:12111')).toEqual({ host: '127.0.0.1', port: '12111', protocol: 'http' });
    expect(apiBaseOptions('https://stripe.internal')).toEqual({ host: 'stripe.internal', port: '443', protocol: 'https' });
    expect(apiBaseOptions(undefined)).toEqual({});
  });

  it('refuses an API base it cannot honour (a path, another scheme, no URL) at cold start', () => {
    expect(() => apiBaseOptions('http://127.0.0.1:12111/stripe')).toThrow(ConfigurationError);
    expect(() => apiBaseOptions('ftp://127.0.0.1')).toThrow(ConfigurationError);
    expect(() => apiBaseOptions('127.0.0.1:12111')).toThrow(ConfigurationError);
  });

  it('picks Stripe with a key, the ledger without one, and refuses to run with neither', () => {
    expect(makeUsageBiller({ secretKey: KEY })).toBeInstanceOf(StripeMeterBiller);
    expect(makeUsageBiller({ ledgerDir: '/tmp/unused-ledger' })).toBeInstanceOf(LedgerUsageBiller);
    expect(() => makeUsageBiller({})).toThrow(ConfigurationError);
  });
});

describe('Stripe key rotation (a bounded cache, read afresh on 401/403)', () => {
  const OLD = 'sk_test_old_key_1111';
  const NEW = 'sk_test_new_key_2222';
  let fake: FakeStripe;
  beforeEach(async () => {
    // Stripe knows only the new key: the old one was rolled.
    fake = await startFakeStripe({ apiKey: NEW, now: () => NOW });
  });
  afterEach(() => fake.close());

  /** A secret whose cached read lags behind the stored value until it is read with forceFetch (as Powertools' getSecret with maxAge does). */
  const secret = (stored: string) => {
    const reads: boolean[] = [];
    let cached: string | undefined;
    const state = { stored };
    const reader = async ({ forceFetch }: { forceFetch: boolean }) => {
      reads.push(forceFetch);
      if (forceFetch || cached === undefined) cached = state.stored;
      return cached;
    };
    return { reader, reads, state };
  };

  it('on a 401 reads the key afresh and sends again with the new one, once', async () => {
    const s = secret(OLD);
    const biller = new RotatingKeyStripeBiller(s.reader, { apiBase: fake.apiBase });
    await expect(biller.reportUsage(usage('bwn_1'))).rejects.toBeInstanceOf(BillingUnavailableError);
    expect(fake.meterEvents).toEqual([]);

    s.state.stored = NEW; // the operator puts the rolled key in the secret; nobody redeploys
    await biller.reportUsage(usage('bwn_1'));

    expect(fake.meterEvents.map((event) => event.identifier)).toEqual(['bwn_1']);
    // A forced read that finds the same key does not call again: one call per try until the rotation.
    expect(fake.calls.map((call) => [call.apiKey, call.status])).toEqual([
      [OLD, 401],
      [OLD, 401],
      [NEW, 200],
    ]);
    // Cached read, forced read after the 401; cached (stale) read, forced read that finds the new key.
    expect(s.reads).toEqual([false, true, false, true]);
  });

  it('a refused key that is still the one stored stays a retryable refusal', async () => {
    const s = secret(OLD);
    const error = await outcome(new RotatingKeyStripeBiller(s.reader, { apiBase: fake.apiBase }).reportUsage(usage('bwn_2')));
    expect(error).toBeInstanceOf(BillingUnavailableError);
    expect((error as BillingUnavailableError).status).toBe(401);
    expect(fake.calls).toHaveLength(1);
    expect(s.reads).toEqual([false, true]);
  });

  it('is what the factory builds for a key reader', () => {
    expect(makeUsageBiller({ readKey: async () => NEW })).toBeInstanceOf(RotatingKeyStripeBiller);
  });

  it('reads the key once at cold start (not awaited there), sends the first event with it, and still reads afresh on a 401', async () => {
    const s = secret(OLD);
    const early = earlyKeyReader(s.reader, () => undefined);
    expect(s.reads).toEqual([false]); // started before anything asked for the key
    s.state.stored = NEW; // rotated after that read
    const biller = new RotatingKeyStripeBiller(early, { apiBase: fake.apiBase });

    await biller.reportUsage(usage('bwn_3'));

    expect(fake.calls.map((call) => [call.apiKey, call.status])).toEqual([
      [OLD, 401],
      [NEW, 200],
    ]);
    // The early read served the first use; the 401 forced a fresh one.
    expect(s.reads).toEqual([false, true]);
  });

  it('a key that cannot be read at cold start is reported then, and read again on first use, where a failure fails the event (retryable)', async () => {
    let stored: string | undefined;
    const reads: boolean[] = [];
    const reader = async ({ forceFetch }: { forceFetch: boolean }) => {
      reads.push(forceFetch);
      if (stored === undefined) throw new Error('ResourceNotFoundException: Secrets Manager can\'t find the specified secret.');
      return stored;
    };
    const reported: unknown[] = [];
    const biller = new RotatingKeyStripeBiller(
      earlyKeyReader(reader, (error) => reported.push(error)),
      { apiBase: fake.apiBase },
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(reported.map((error) => (error as Error).message)).toEqual([expect.stringContaining('ResourceNotFoundException')]);

    const error = await outcome(biller.reportUsage(usage('bwn_4')));
    expect(error).toBeInstanceOf(BillingUnavailableError);
    expect((error as Error).message).toMatch(/The Stripe key could not be read: ResourceNotFoundException/);
    expect(fake.calls).toEqual([]);

    stored = NEW; // the operator creates the secret
    await biller.reportUsage(usage('bwn_4'));
    expect(fake.meterEvents.map((event) => event.identifier)).toEqual(['bwn_4']);
    // Cold start, first use (read again, failed), the next use.
    expect(reads).toEqual([false, false, false]);
  });
});
