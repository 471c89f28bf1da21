import { FakeClock } from '../support/clock';
import { startFakeStripe, type FakeStripe } from '../../local/fakes/fake-stripe';

// The fake is shared by adapter, end-to-end and benchmark runs: these pin down its own behaviour.

const KEY = 'sk_test_fake_key_1234';
const NOW = new Date('2026-05-01T12:00:00.000Z');
const nowSeconds = NOW.getTime() / 1000;

const post = async (fake: FakeStripe, form: Record<string, string>, authorization = `Bearer ${KEY}`, path = '/v1/billing/meter_events') => {
  const response = await fetch(`${fake.apiBase}${path}`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
};

const event = (identifier: string, customer = 'cus_A') => ({
  event_name: 'access_code_redemption',
  'payload[stripe_customer_id]': customer,
  'payload[value]': '1',
  identifier,
  timestamp: String(nowSeconds - 10),
});

describe('fake Stripe API', () => {
  let clock: FakeClock;
  let fake: FakeStripe;

  beforeEach(async () => {
    clock = new FakeClock(NOW);
    fake = await startFakeStripe({ apiKey: KEY, now: () => clock.now() });
  });
  afterEach(() => fake.close());

  it('reads Stripe\'s nested form encoding and answers with a billing.meter_event', async () => {
    const answer = await post(fake, event('rdm_1'));

    expect(answer).toEqual({
      status: 200,
      body: {
        object: 'billing.meter_event',
        livemode: false,
        event_name: 'access_code_redemption',
        identifier: 'rdm_1',
        payload: { stripe_customer_id: 'cus_A', value: '1' },
        timestamp: nowSeconds - 10,
        created: nowSeconds,
      },
    });
  });

  it('answers a repeated identifier with Stripe\'s duplicate error and keeps one event', async () => {
    await post(fake, event('rdm_2'));

    const again = await post(fake, event('rdm_2', 'cus_B'));

    expect(again).toEqual({
      status: 400,
      body: { error: { type: 'invalid_request_error', code: 'duplicate_meter_event', message: 'An event already exists with identifier rdm_2.' } },
    });
    expect(fake.meterEvents).toHaveLength(1);
  });

  it('accepts basic auth with the key as user, and refuses a missing or wrong key with 401', async () => {
    expect((await post(fake, event('rdm_3'), `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`)).status).toBe(200);
    expect(await post(fake, event('rdm_4'), '')).toMatchObject({ status: 401, body: { error: { message: 'You did not provide an API key.' } } });
    const wrong = await post(fake, event('rdm_5'), 'Bearer sk_test_other_secret_0000');
    expect(wrong.status).toBe(401);
    expect(JSON.stringify(wrong.body)).not.toContain('other_secret');
    expect(fake.meterEvents.map((e) => e.identifier)).toEqual(['rdm_3']);
  });

  it('refuses missing parameters, a non-numeric value and a timestamp outside Stripe\'s window', async () => {
    const { event_name: _, ...noName } = event('rdm_6');
    expect(await post(fake, noName)).toMatchObject({ status: 400, body: { error: { code: 'parameter_missing', param: 'event_name' } } });
    expect((await post(fake, { ...event('rdm_7'), 'payload[value]': 'one' })).status).toBe(400);
    expect((await post(fake, { ...event('rdm_8'), timestamp: String(nowSeconds - 36 * 86_400) })).body.error.param).toBe('timestamp');
    expect((await post(fake, { ...event('rdm_9'), timestamp: String(nowSeconds + 301) })).body.error.param).toBe('timestamp');
    expect((await post(fake, { ...event('rdm_10'), timestamp: String(nowSeconds + 300) })).status).toBe(200);
    expect(fake.meterEvents.map((e) => e.identifier)).toEqual(['rdm_10']);
  });

  it('answers an unknown route with 404 like Stripe', async () => {
    expect(await post(fake, {}, `Bearer ${KEY}`, '/v1/customers')).toMatchObject({ status: 404, body: { error: { type: 'invalid_request_error' } } });
  });

  it('fails every request for the time given by failFor, by its own clock', async () => {
    fake.failFor(30_000, 500);

    const during = await post(fake, event('rdm_11'));
    clock.advance(29_999);
    const stillDuring = await post(fake, event('rdm_11'));
    clock.advance(1);
    const after = await post(fake, event('rdm_11'));

    expect([during.status, stillDuring.status, after.status]).toEqual([500, 500, 200]);
    expect(during.body).toEqual({ error: { type: 'api_error', message: 'An unknown error occurred, please try again later.' } });
    expect(fake.meterEvents).toHaveLength(1);
  });

  it('answers failNext only as many times as asked, with Stripe\'s rate_limit body for a 429', async () => {
    fake.failNext(2, 429);

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(fake, event(`rdm_12_${i}`))).status);

    expect(statuses).toEqual([429, 429, 200]);
    expect(fake.calls[0]?.errorCode).toBe('rate_limit');
    expect(fake.meterEvents.map((e) => e.identifier)).toEqual(['rdm_12_2']);
  });

  it('can be scripted over HTTP when it runs as its own process', async () => {
    await fetch(`${fake.apiBase}/_fake/fail-next?n=1&status=503`, { method: 'POST' });
    expect((await post(fake, event('rdm_13'))).status).toBe(503);
    expect((await post(fake, event('rdm_13'))).status).toBe(200);

    const listed = (await (await fetch(`${fake.apiBase}/_fake/meter-events`)).json()) as { data: Array<{ identifier: string }> };
    expect(listed.data.map((e) => e.identifier)).toEqual(['rdm_13']);
    await fetch(`${fake.apiBase}/_fake/reset`, { method: 'POST' });
    expect(fake.meterEvents).toEqual([]);
  });
});
