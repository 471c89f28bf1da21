import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import type { EventEnvelope } from '../../functions/contracts/events';
import { startFakeTelegram, type FakeTelegram } from '../../local/fakes/fake-telegram';
import {
  ALL_ABILITIES,
  bulkGenerate,
  createCreator,
  generatedEventsOf,
  parseCsv,
  quietBatchFailures,
  startPipelineHarness,
  waitForJob,
  type PipelineHarness,
} from '../support/pipeline';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/fakes/webhook-receiver';

// The webhooks on the local stack as a new user meets them: the API over HTTP, the pipeline
// publishing through the outbox relay onto the in-process bus, the EVENT_RULES routing to the
// webhook-dispatch handler, the delivery queue feeding the webhook-delivery handler, real HTTP
// to a receiver on 127.0.0.1 that verifies with the real `standardwebhooks` package.

/** The events the relay published for `projectId` (the local bus writes each to events.jsonl). */
const publishedEvents = (projectId: string): EventEnvelope<Record<string, unknown>>[] => {
  const file = join(harnessDataDir(), 'events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { detail?: EventEnvelope<Record<string, unknown>> } & EventEnvelope<Record<string, unknown>>)
    .map((entry) => entry.detail ?? entry)
    .filter((event) => event.project_id === projectId);
};
let harnessDataDir: () => string;

/** Waits (polling) until `done` holds, failing with `what` if it never does. */
const until = async (what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

let fake: FakeTelegram;

beforeAll(async () => {
  quietBatchFailures();
  fake = await startFakeTelegram();
});
afterAll(async () => {
  await fake?.close();
});

describe('webhooks on the local stack (WEBHOOK_ALLOW_PRIVATE_URLS=1)', () => {
  let harness: PipelineHarness;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    // No wait on the queue: a retry comes back at once until due, so the fake clock alone paces retries.
    harness = await startPipelineHarness(fake, { webhooks: { allowPrivateUrls: true, maxQueueDelaySeconds: 0 } });
    harnessDataDir = () => harness.dataDir;
  });
  afterEach(async () => {
    await receiver?.close();
  });
  afterAll(async () => {
    await harness?.stop();
  });

  const subscribe = async (token: string, projectId: string) => {
    const created = await harness.call('POST', '/v1/webhook-endpoints', {
      token,
      json: { project_id: projectId, url: receiver.url(), events: ['access_code.*'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.data.secret).toMatch(/^whsec_/);
    receiver.setSecrets([created.body.data.secret]);
    return created.body.data as { id: string; secret: string };
  };

  const generateFileBatch = async (creator: Awaited<ReturnType<typeof createCreator>>, expiryPreset = '1_week') => {
    const answer = await bulkGenerate(harness, creator.token, { plan_id: creator.planId, quantity: 5, export_type: 'file', expiry_preset: expiryPreset });
    expect(answer.status).toBe(202);
    const job = await waitForJob(harness, creator.token, answer.body.data.job_id);
    expect(job.status).toBe('completed');
    const events = await generatedEventsOf(harness, job.batch_id);
    expect(events).toHaveLength(1);
    return events[0]!;
  };

  test('an endpoint subscribed to access_code.* receives one signed delivery for a generated batch, with the event id as webhook-id', async () => {
    receiver = await startWebhookReceiver({ secrets: [] });
    const creator = await createCreator(harness);
    const endpoint = await subscribe(creator.token, creator.projectId);

    const event = await generateFileBatch(creator);
    await until('the delivery', () => receiver.received.length >= 1);
    await harness.pipeline.webhooks.idle();

    expect(receiver.received).toHaveLength(1);
    const [delivery] = receiver.received;
    expect(delivery).toMatchObject({ id: event.id, type: 'access_code.generated', verified: true, status: 200 });
    // Verified independently of the receiver, with the endpoint's secret and the real library.
    const payload = new Webhook(endpoint.secret).verify(delivery!.body, {
      'webhook-id': delivery!.id,
      'webhook-timestamp': delivery!.timestamp,
      'webhook-signature': delivery!.signature,
    });
    expect(payload).toEqual(event);

    const listing = await harness.call('GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries`, { token: creator.token });
    expect(listing.status).toBe(200);
    expect(listing.body.data.deliveries).toHaveLength(1);
    expect(listing.body.data.deliveries[0]).toMatchObject({ event_id: event.id, event_type: 'access_code.generated', status: 'succeeded', attempt_count: 1 });
  });

  test('the same endpoint receives one delivery per redemption and one per expired code, each signed, with the event id as webhook-id', async () => {
    receiver = await startWebhookReceiver({ secrets: [] });
    const creator = await createCreator(harness);
    await subscribe(creator.token, creator.projectId);
    // A day's expiry, so that the sweep below expires this batch only (the other tests' batches
    // last a week, and their receivers are gone).
    const generated = await generateFileBatch(creator, '1_day');
    const codes = parseCsv(fake.documentsTo(creator.chatId).at(-1)!.content).rows.map((row) => row.code!);
    expect(codes).toHaveLength(5);

    for (const [i, code] of codes.slice(0, 2).entries()) {
      const redeemed = await harness.call('POST', '/v1/access-codes/redeem', { token: creator.token, json: { code, subscriber_id: `usr_${i}` } });
      expect(redeemed.status).toBe(200);
    }
    // Past the day's expiry: the sweep expires the three codes nobody redeemed.
    harness.clock.advance(2 * 86_400_000);
    await harness.pipeline.expirySweep();
    await until('six deliveries', () => receiver.received.length >= 6);
    await harness.pipeline.poller.idle();
    await harness.pipeline.bus.idle();
    await harness.pipeline.webhooks.idle();

    const published = publishedEvents(creator.projectId);
    const redeemed = published.filter((event) => event.type === 'access_code.redeemed');
    const expired = published.filter((event) => event.type === 'access_code.expired');
    expect([redeemed.length, expired.length]).toEqual([2, 3]);
    const byType = (type: string) => receiver.received.filter((delivery) => delivery.type === type);
    expect(byType('access_code.generated').map((d) => d.id)).toEqual([generated.id]);
    expect(byType('access_code.redeemed').map((d) => d.id).sort()).toEqual(redeemed.map((event) => event.id).sort());
    expect(byType('access_code.expired').map((d) => d.id).sort()).toEqual(expired.map((event) => event.id).sort());
    expect(receiver.received).toHaveLength(6);
    expect(receiver.received.every((delivery) => delivery.verified && delivery.status === 200)).toBe(true);
    // The body is the event itself, code masked: no delivery carries a full code.
    for (const delivery of receiver.received) {
      expect(JSON.parse(delivery.body).id).toBe(delivery.id);
      for (const code of codes) expect(delivery.body).not.toContain(code);
    }
  });

  test('a receiver answering 500 twice then 200 gets the same webhook-id three times, and the listing shows three attempts', async () => {
    receiver = await startWebhookReceiver({ secrets: [] });
    const creator = await createCreator(harness);
    const endpoint = await subscribe(creator.token, creator.projectId);
    receiver.failNext(2, 500);

    const event = await generateFileBatch(creator);
    await until('the first attempt', () => receiver.received.length >= 1);
    // The retry waits for the test clock: 5 s (±10%) after the first failure…
    harness.clock.advance(6_000);
    await until('the second attempt', () => receiver.received.length >= 2);
    // …then 5 minutes (±10%) after the second.
    harness.clock.advance(331_000);
    await until('the third attempt', () => receiver.received.length >= 3);
    await harness.pipeline.webhooks.idle();

    expect(receiver.received.map((r) => [r.id, r.status, r.verified])).toEqual([
      [event.id, 500, true],
      [event.id, 500, true],
      [event.id, 200, true],
    ]);
    const listing = await harness.call('GET', `/v1/webhook-endpoints/${endpoint.id}/deliveries`, { token: creator.token });
    expect(listing.status).toBe(200);
    const [delivery] = listing.body.data.deliveries;
    expect(delivery).toMatchObject({ event_id: event.id, status: 'succeeded', attempt_count: 3 });
    expect(delivery.attempts.map((a: { attempt: number; response_status: number }) => [a.attempt, a.response_status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    // Each retry waited at least its scheduled delay on the test clock.
    const times = delivery.attempts.map((a: { at: string }) => Date.parse(a.at));
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(4_500);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(270_000);
  });

  test('a token without project-access-code:view-any gets 403 creating an endpoint, and nothing is created', async () => {
    receiver = await startWebhookReceiver({ secrets: [] });
    const creator = await createCreator(harness, {
      all: ALL_ABILITIES,
      creatorOnly: ['project-access-code:create'],
    });
    const refused = await harness.call('POST', '/v1/webhook-endpoints', {
      token: creator.tokens.creatorOnly,
      json: { project_id: creator.projectId, url: receiver.url(), events: ['access_code.*'] },
    });
    expect(refused.status).toBe(403);
    const listing = await harness.call('GET', `/v1/webhook-endpoints?project_id=${creator.projectId}`, { token: creator.tokens.all });
    expect(listing.status).toBe(200);
    expect(listing.body.data.endpoints).toEqual([]);
  });

  test("another team's endpoint is not found", async () => {
    receiver = await startWebhookReceiver({ secrets: [] });
    const owner = await createCreator(harness);
    const other = await createCreator(harness);
    const endpoint = await subscribe(owner.token, owner.projectId);
    const answer = await harness.call('GET', `/v1/webhook-endpoints/${endpoint.id}`, { token: other.token });
    expect(answer.status).toBe(404);
    const patched = await harness.call('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { token: owner.token, json: { enabled: false } });
    expect(patched.status).toBe(200);
    expect(patched.body.data.enabled).toBe(false);
  });
});

describe('webhooks with the production SSRF guard', () => {
  let harness: PipelineHarness;

  beforeAll(async () => {
    harness = await startPipelineHarness(fake, { webhooks: { allowPrivateUrls: false } });
  });
  afterAll(async () => {
    await harness?.stop();
  });

  test.each(['http://127.0.0.1:8080/hook', 'https://127.0.0.1/hook', 'https://169.254.169.254/latest', 'https://[fd00::1]/x', 'https://10.0.0.1/x'])(
    'a URL to a private address (%s) gets 422 on creation',
    async (url) => {
      const creator = await createCreator(harness);
      const answer = await harness.call('POST', '/v1/webhook-endpoints', {
        token: creator.token,
        json: { project_id: creator.projectId, url, events: ['access_code.generated'] },
      });
      expect(answer.status).toBe(422);
      expect(JSON.stringify(answer.body)).toContain('url');
      const listing = await harness.call('GET', `/v1/webhook-endpoints?project_id=${creator.projectId}`, { token: creator.token });
      expect(listing.body.data.endpoints).toEqual([]);
    },
  );
});
